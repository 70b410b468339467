/**
 * What each `fusion` subcommand does. Each returns the process exit code.
 * @module
 */
import { loadCookie } from "../cookie.ts";
import { AuthenticationError, ConnectError } from "../errors.ts";
import { Node } from "../node.ts";
import { names, RegistryServer, resolveRegistryPort } from "../registry/mod.ts";
import { NodeManager, type NodeManagerOptions, type RemoteNode } from "../remote/mod.ts";
import { connectSsh, resolveSshConfig } from "../ssh/mod.ts";
import type { HostResult } from "../task_runner.ts";
import { type Command, type GlobalOptions, InputError, UsageError } from "./args.ts";
import { fanOut, type HostWork, interruptedError } from "../fan_out.ts";
import { type HostEntry, loadInventory, resolveHosts } from "./inventory.ts";
import { createReporter, type ReporterIo, type ReporterOptions } from "./reporter.ts";

/** Where the CLI writes, and how it hears Ctrl-C. */
export interface CliIo extends ReporterIo {
  /** Calls `handler` on each SIGINT (and SIGTERM); returns a function that stops listening. */
  onInterrupt(handler: () => void): () => void;
  /** Ends the process now (a second Ctrl-C). */
  exit(code: number): never;
}

/** Exit codes. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** A shell command that ended with a non-zero exit code (its host counts as failed). */
export class ExitStatusError extends Error {
  /** The command's result: `{ code, signal, stdout, stderr }`. */
  readonly result: ShellResult;
  constructor(result: ShellResult) {
    super(
      result.code === null || result.code === undefined
        ? `killed by signal ${result.signal ?? "?"}`
        : `exit code ${result.code}`,
    );
    this.name = "ExitStatusError";
    this.result = result;
  }
}

/** What the agent's "sh" service answers. */
export interface ShellResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

type HostCommand = Extract<Command, { hosts: string }>;

interface Plan {
  /** Needs an agent (else `work` does its own SSH). */
  agent: boolean;
  /** For agent commands: what to do on the connected node. */
  task?: (remote: RemoteNode) => Promise<unknown>;
  /** For the others: the whole per-host work. */
  work?: HostWork<HostEntry>;
  report: Omit<ReporterOptions, "verbose">;
}

/** Runs run, eval, sh, ping or clean on every host. */
export async function hostCommand(
  cmd: HostCommand,
  opts: GlobalOptions,
  io: CliIo,
): Promise<number> {
  const inventory = opts.inventory === undefined ? undefined : await loadInventory(opts.inventory);
  const hosts = resolveHosts(cmd.hosts, inventory);
  if (opts.hostKeys) {
    for (const h of hosts) {
      if (!h.target.hostKeys?.policy) {
        h.target.hostKeys = { ...h.target.hostKeys, policy: opts.hostKeys };
      }
    }
  }
  if (opts.sshConfig !== undefined) await checkSshConfig(opts.sshConfig);
  if (cmd.name === "run") await checkModule(cmd.module);
  const plan = planOf(cmd, opts, io.tty);

  let node: Node | undefined;
  if (plan.agent) {
    node = await Node.start({
      name: `fusion-cli-${randomHex(4)}`,
      ...(opts.registryPort !== undefined ? { registryPort: opts.registryPort } : {}),
    });
  }
  const reporter = createReporter(opts.output, io, { ...plan.report, verbose: opts.verbose });
  const abort = new AbortController();
  let presses = 0;
  const stopListening = io.onInterrupt(() => {
    if (++presses > 1) {
      io.stderr("fusion: interrupted again: exiting without waiting\n");
      io.exit(EXIT.interrupted);
    }
    io.stderr("fusion: interrupted: disconnecting every host (Ctrl-C again to quit now)\n");
    abort.abort(interruptedError());
  });

  const work: HostWork<HostEntry> = plan.agent
    ? agentWork(node!, opts, reporter, plan.task!)
    : plan.work!;
  const t0 = performance.now();
  const results: HostResult[] = [];
  try {
    reporter.start(hosts.map((h) => h.label));
    for await (
      const r of fanOut(hosts, work, {
        parallel: opts.parallel,
        label: (h) => h.label,
        signal: abort.signal,
        onState: (host, state) => reporter.state(host, state),
      })
    ) {
      results.push(r);
      reporter.result(r);
    }
    const order = new Map(hosts.map((h, i) => [h.label, i]));
    results.sort((a, b) => order.get(a.host)! - order.get(b.host)!);
    reporter.finish(
      results,
      performance.now() - t0,
      abort.signal.aborted ? "interrupted" : undefined,
    );
  } finally {
    stopListening();
    await node?.close().catch(() => {});
  }
  if (abort.signal.aborted) return EXIT.interrupted;
  return results.every((r) => r.ok) ? EXIT.ok : EXIT.failed;
}

// Connect, hand the node to the task, and always disconnect.
function agentWork(
  node: Node,
  opts: GlobalOptions,
  reporter: { output(host: string, line: string): void; log(line: string): void },
  task: (remote: RemoteNode) => Promise<unknown>,
): HostWork<HostEntry> {
  return async (h: HostEntry, ctx) => {
    const options: NodeManagerOptions = {
      node,
      name: agentName(h.label),
      installDeno: opts.installDeno,
      output: (line) => reporter.output(h.label, line),
      ...(opts.timeoutMs !== undefined ? { connectTimeoutMs: opts.timeoutMs } : {}),
      ...(opts.sshConfig !== undefined ? { sshConfig: opts.sshConfig } : {}),
      ...(opts.verbose ? { log: (line: string) => reporter.log(line) } : {}),
    };
    const manager = new NodeManager(h.target, options);
    const letGo = () => void manager.disconnect();
    ctx.signal.addEventListener("abort", letGo, { once: true });
    try {
      ctx.state("connecting");
      const remote = await manager.connect();
      if (ctx.signal.aborted) throw interruptedError();
      ctx.state("running");
      return await task(remote);
    } finally {
      ctx.signal.removeEventListener("abort", letGo);
      await manager.disconnect().catch(() => {});
    }
  };
}

/**
 * Evaluates `src` as an expression, or else as a function body; awaited.
 * Shipped to the agent by its source, so it must stay self-contained.
 */
export async function evaluateSource(src: string): Promise<unknown> {
  let f: () => Promise<unknown>;
  try {
    f = (0, eval)(`(async () => (${src}\n))`);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    f = (0, eval)(`(async () => {${src}\n})`);
  }
  try {
    return await f();
  } catch (e) {
    // A plain ReferenceError here means the expression's own mistake, not runFun's capture rule.
    if (e instanceof ReferenceError) {
      const plain = new Error(e.message);
      plain.name = "ReferenceError";
      plain.stack = e.stack ?? "";
      throw plain;
    }
    throw e;
  }
}

function planOf(cmd: HostCommand, opts: GlobalOptions, tty: boolean): Plan {
  const timeout = opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {};
  switch (cmd.name) {
    case "run":
      return {
        agent: true,
        task: (remote) => remote.run(cmd.module, cmd.fn, cmd.args, timeout),
        report: { format: (v) => inspect(v, tty) },
      };
    case "eval":
      return {
        agent: true,
        task: (remote) => remote.runFun(evaluateSource, [cmd.expression], timeout),
        report: { format: (v) => inspect(v, tty) },
      };
    case "sh":
      return {
        agent: true,
        task: async (remote) => {
          const payload = {
            command: cmd.command,
            ...(cmd.cwd !== undefined ? { cwd: cmd.cwd } : {}),
            ...(Object.keys(cmd.env).length ? { env: cmd.env } : {}),
          };
          const r = await remote.request("sh", payload, timeout) as ShellResult;
          if (r.code !== 0) throw new ExitStatusError(r);
          return r;
        },
        report: {
          format: (v) => shellText(v as ShellResult),
          detail: (e) =>
            e instanceof ExitStatusError
              ? shellText(e.result).split("\n").slice(1).map((l) => `  ${l}`).join("\n")
              : "",
        },
      };
    case "ping":
      return {
        agent: true,
        task: async (remote) => {
          const rttMs = await remote.ping(timeout);
          const info = await remote.info(timeout);
          return {
            rttMs: Math.round(rttMs * 100) / 100,
            node: remote.name,
            hostname: info.hostname,
            deno: info.deno,
            os: info.os,
            arch: info.arch,
          };
        },
        report: {
          format: (v) => {
            const p = v as { rttMs: number; hostname: string; deno: string };
            return `rtt ${p.rttMs.toFixed(2)} ms  (${p.hostname}, deno ${p.deno})`;
          },
        },
      };
    case "clean":
      return { agent: false, work: cleanWork(opts), report: { format: cleanText } };
  }
}

// `du` first, so the report can say what was freed.
const CLEAN_SCRIPT = [
  'd="$HOME/.cache/fusion"',
  'if [ -e "$d" ]; then',
  '  k=$(du -sk "$d" 2>/dev/null | cut -f1)',
  '  rm -rf "$d" || exit 1',
  '  echo "removed ${k:-0}"',
  "else echo absent; fi",
].join("\n");

function cleanWork(opts: GlobalOptions): HostWork<HostEntry> {
  return async (h, ctx) => {
    ctx.state("connecting");
    const ssh = await connectSsh(h.target, {
      ...(opts.timeoutMs !== undefined ? { connectTimeoutMs: opts.timeoutMs } : {}),
      ...(opts.sshConfig !== undefined ? { sshConfig: opts.sshConfig } : {}),
    });
    const letGo = () => void ssh.close();
    ctx.signal.addEventListener("abort", letGo, { once: true });
    try {
      if (ctx.signal.aborted) throw interruptedError();
      ctx.state("running");
      const ch = await ssh.exec(CLEAN_SCRIPT);
      let out = "";
      let err = "";
      const dec = new TextDecoder();
      // Reading stdout and stderr lets the channel close.
      ch.stdout.on("data", (c: Uint8Array) => out += dec.decode(c, { stream: true }));
      ch.stderr.on("data", (c: Uint8Array) => err += dec.decode(c, { stream: true }));
      ch.stdin.on("error", () => {});
      ch.stdin.end();
      const exit = await withTimeout(ch.exit, opts.timeoutMs ?? 30_000, () => ch.close());
      if (exit.code !== 0) {
        throw new Error(
          `removing ~/.cache/fusion failed (exit ${exit.code ?? exit.signal})${
            err.trim() ? `: ${err.trim().split("\n").at(-1)}` : ""
          }`,
        );
      }
      const m = /removed (\d+)/.exec(out);
      return m ? { removed: true, kb: Number(m[1]) } : { removed: false, kb: 0 };
    } finally {
      ctx.signal.removeEventListener("abort", letGo);
      await ssh.close();
    }
  };
}

function cleanText(v: unknown): string {
  const r = v as { removed: boolean; kb: number };
  return r.removed ? `removed ~/.cache/fusion (${r.kb} KB)` : "nothing to remove";
}

function shellText(r: ShellResult): string {
  const lines = [r.code === null ? `killed by signal ${r.signal}` : `exit ${r.code}`];
  const body = (text: string, prefix: string) => {
    if (text === "") return;
    for (const l of text.replace(/\n$/, "").split("\n")) lines.push(prefix + l);
  };
  body(r.stdout, "");
  body(r.stderr, "[stderr] ");
  return lines.join("\n");
}

function inspect(v: unknown, colors: boolean): string {
  if (typeof v === "string") return v;
  return Deno.inspect(v, {
    colors: colors && Deno.noColor === false,
    depth: 8,
    compact: true,
    breakLength: 100,
    strAbbreviateSize: 100_000,
    iterableLimit: 1000,
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout();
        reject(new Error(`no answer within ${ms} ms`));
      }, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Fails with exit 2 unless the ssh config file can be read and parsed. */
async function checkSshConfig(path: string): Promise<void> {
  try {
    await Deno.readTextFile(path);
    await resolveSshConfig("fusion-config-check.invalid", { configFile: path });
  } catch (e) {
    throw new InputError(
      `cannot use ssh config ${path}: ${(e as Error).message.split("\n")[0]}`,
      { cause: e },
    );
  }
}

/** Fails with exit 2 when a local module path does not exist. */
async function checkModule(module: string): Promise<void> {
  if (/^[a-z][a-z0-9+.-]*:/i.test(module)) return; // a URL or specifier: the bundler judges it
  try {
    const st = await Deno.stat(module);
    if (!st.isFile) throw new Error("not a file");
  } catch (e) {
    throw new InputError(`cannot read module ${module}: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** `fusion names`: the registry's nodes. */
export async function namesCommand(opts: GlobalOptions, io: CliIo): Promise<number> {
  const port = resolveRegistryPort(opts.registryPort);
  let entries;
  try {
    entries = await names({
      port,
      credentials: { kind: "cookie", cookie: loadCookie() },
      ...(opts.timeoutMs !== undefined ? { limits: { handshakeTimeoutMs: opts.timeoutMs } } : {}),
    });
  } catch (e) {
    if (e instanceof AuthenticationError) {
      io.stderr(
        `fusion: the registry on 127.0.0.1:${port} refused this cookie (${e.message}); it lists names only for the cookie its nodes use\n`,
      );
      return EXIT.failed;
    }
    if (!(e instanceof ConnectError)) throw e;
    io.stderr(
      `fusion: no registry answers on 127.0.0.1:${port} (start one with fusion registry)\n`,
    );
    return EXIT.failed;
  }
  if (opts.output === "json") io.stdout(JSON.stringify(entries) + "\n");
  else if (opts.output === "ndjson") {
    for (const e of entries) {
      io.stdout(JSON.stringify(e) + "\n");
    }
  } else {
    io.stdout(
      `fusion registry on 127.0.0.1:${port}: ${entries.length} node${
        entries.length === 1 ? "" : "s"
      }\n`,
    );
    for (const e of entries) io.stdout(`name ${e.name} at port ${e.port}\n`);
  }
  return EXIT.ok;
}

/** `fusion registry`: the registry in the foreground until Ctrl-C. */
export async function registryCommand(opts: GlobalOptions, io: CliIo): Promise<number> {
  const port = resolveRegistryPort(opts.registryPort);
  let server: RegistryServer;
  try {
    server = await RegistryServer.listen({
      port,
      credentials: { kind: "cookie", cookie: loadCookie() },
    });
  } catch (e) {
    if (!(e instanceof ConnectError)) throw e;
    const inUse = (e.cause as { code?: string } | undefined)?.code === "EADDRINUSE";
    io.stderr(
      `fusion: ${
        inUse ? `port ${port} is taken (is a registry running? try fusion names)` : e.message
      }\n`,
    );
    return EXIT.failed;
  }
  const line = `fusion registry listening on 127.0.0.1:${server.port} (Ctrl-C stops it)`;
  if (opts.output === "text") io.stdout(line + "\n");
  else io.stdout(JSON.stringify({ port: server.port }) + "\n");
  let watch: ReturnType<typeof setInterval> | undefined;
  if (opts.verbose) {
    let before = new Map<string, number>();
    watch = setInterval(() => {
      const now = new Map(server.entries().map((e) => [e.name, e.port]));
      for (const [n, p] of now) if (before.get(n) !== p) io.stderr(`+ ${n} at port ${p}\n`);
      for (const n of before.keys()) if (!now.has(n)) io.stderr(`- ${n}\n`);
      before = now;
    }, 250);
  }
  await new Promise<void>((resolve) => {
    const stop = io.onInterrupt(() => {
      stop();
      resolve();
    });
  });
  if (watch !== undefined) clearInterval(watch);
  await server.close();
  if (opts.output === "text") io.stdout("fusion registry stopped\n");
  return EXIT.ok;
}

/** True for errors that mean bad input rather than a failing host (exit code 2). */
export function isUsageError(e: unknown): boolean {
  return e instanceof UsageError || e instanceof InputError ||
    (e instanceof Error && e.name === "TargetError") || e instanceof RangeError;
}

function agentName(label: string): string {
  const clean = label.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 40) || "host";
  return `${clean}-${randomHex(3)}`;
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}
