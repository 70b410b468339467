/**
 * `fusion demo` / `deno task demo`: the README's story against an SSH server
 * embedded in this process, so it needs nothing but Deno. Each step prints
 * its timing and value; everything it starts is stopped at the end, also on
 * failure.
 * @module
 */
import {
  connect,
  type DownMessage,
  Node,
  pushModule,
  type RemoteNode,
  run,
  runFun,
  spawn,
} from "../../mod.ts";
import type { Inbox, Pid } from "../../mod.ts";
import { startDemoServer } from "./_demo_server.ts";
import type { Done, Job } from "../../examples/demo/worker.ts";
import type { Health } from "../../examples/demo/health.ts";

/** Options for {@linkcode runDemo}. */
export interface DemoOptions {
  /** Where the demo's lines go; default console.log. */
  log?: (line: string) => void;
  /** Aborting stops the demo at the current step and cleans up (Ctrl-C). */
  signal?: AbortSignal;
}

const HEALTH = new URL("../../examples/demo/health.ts", import.meta.url);
const WORKER = new URL("../../examples/demo/worker.ts", import.meta.url);
const STEP_TIMEOUT_MS = 30_000;

function show(value: unknown): string {
  return Deno.inspect(value, { colors: false, compact: true, breakLength: Infinity, depth: 4 });
}

function kb(bytes: number): string {
  return bytes < 1024 ? `${bytes} bytes` : `${(bytes / 1024).toFixed(1)} kB`;
}

// Whether connect had to upload the agent (always, into the demo server's fresh HOME).
function agentNote(home: string): string {
  try {
    for (const e of Deno.readDirSync(`${home}/.cache/fusion`)) {
      if (/^agent-[0-9a-f]{64}\.js$/.test(e.name)) {
        const size = Deno.statSync(`${home}/.cache/fusion/${e.name}`).size;
        return `agent uploaded (${kb(size)}) and started`;
      }
    }
  } catch { /* no cache dir */ }
  return "agent started";
}

function abortPromise(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (!signal) return;
    const fail = () => reject(signal.reason ?? new DOMException("aborted", "AbortError"));
    if (signal.aborted) fail();
    else signal.addEventListener("abort", fail, { once: true });
  });
}

/**
 * Runs the demo: starts an SSH server on 127.0.0.1 in this process (throwaway
 * keys, strict host key checking against a temporary known_hosts), connects
 * to it, then runFun, run of a pushed module with a dependency, spawn of a
 * remote actor trading messages with a local inbox, a cached re-run, and
 * disconnect. Rejects with the first step's error, after cleaning up.
 */
export async function runDemo(options: DemoOptions = {}): Promise<void> {
  const log = options.log ?? ((line: string) => console.log(line));
  const aborted = abortPromise(options.signal);
  aborted.catch(() => {});
  const t0 = performance.now();

  const step = async <T>(name: string, fn: () => Promise<T>, describe: (v: T) => string) => {
    const start = performance.now();
    const ms = () => `${(performance.now() - start).toFixed(0).padStart(5)} ms`;
    try {
      const value = await Promise.race([fn(), aborted]);
      log(`✓ ${name.padEnd(12)} ${ms()}  ${describe(value)}`);
      return value;
    } catch (e) {
      log(`✗ ${name.padEnd(12)} ${ms()}  ${(e as Error)?.message ?? e}`);
      if (typeof e === "object" && e) reported.add(e);
      throw e;
    }
  };
  const reported = new WeakSet<object>();

  log("Fusion demo: an SSH server embedded in this process plays the remote machine.");
  log("");

  // Everything below is undone in reverse order in `finally`.
  const cleanups: [string, () => Promise<unknown> | unknown][] = [];
  let failed = false;
  let connecting: Promise<RemoteNode> | undefined;
  let connected: RemoteNode | undefined;
  try {
    const dir = await Deno.makeTempDir({ prefix: "fusion-demo-" });
    cleanups.push(["temp dir", () => Deno.remove(dir, { recursive: true })]);
    // The "server" gets its own HOME, so nothing lands in ~/.cache/fusion.
    const home = `${dir}/home`;
    await Deno.mkdir(home, { mode: 0o700 });

    const starting = startDemoServer({ home });
    cleanups.push(["ssh server", () => starting.then((s) => s.close(), () => {})]);
    const server = await step(
      "ssh server",
      () => starting,
      (s) => `127.0.0.1:${s.port} (throwaway ed25519 host and client keys, made in memory)`,
    );
    const knownHosts = `${dir}/known_hosts`;
    const keyFile = `${dir}/id_ed25519`;
    const sshConfig = `${dir}/ssh_config`;
    await Deno.writeTextFile(knownHosts, `${server.knownHostsLine}\n`, { mode: 0o600 });
    await Deno.writeTextFile(keyFile, server.clientKey, { mode: 0o600 });
    // An empty config, so the user's ~/.ssh/config cannot redirect the demo.
    await Deno.writeTextFile(sshConfig, "");

    const node = await Node.start({
      name: "demo",
      registryPort: 0,
      cookie: crypto.getRandomValues(new Uint8Array(32)),
    });
    cleanups.push(["local node", () => node.close()]);

    cleanups.push(["disconnect", () => connected?.close()]);
    const remote = connected = await step(
      "connect",
      () =>
        connecting = connect({
          host: server.host,
          port: server.port,
          username: server.username,
          auth: { key: keyFile },
          hostKeys: { policy: "strict", knownHosts },
          sshConfig,
          deno: Deno.execPath(),
        }, {
          node,
          name: "remote",
          connectTimeoutMs: STEP_TIMEOUT_MS,
          output: (line, from) => log(`  [${from}] ${line}`),
        }),
      (r) => `${r.name}: key auth, strict host key check, ${agentNote(home)}`,
    );

    await step(
      "runFun",
      () =>
        runFun(remote, () => ({
          os: Deno.build.os,
          arch: Deno.build.arch,
          deno: Deno.version.deno,
          pid: Deno.pid,
        })),
      show,
    );

    // pushModule reports the bytes it sent (0 when the remote holds the bundle); run reuses it.
    const runHealth = async () => {
      const pushed = await pushModule(remote, HEALTH);
      const value = await run(remote, HEALTH, "check", [], { timeoutMs: STEP_TIMEOUT_MS });
      return { pushed, value: value as Health };
    };
    const describeRun = ({ pushed, value }: Awaited<ReturnType<typeof runHealth>>) =>
      `health.ts#check (pushed ${kb(pushed.bytes)}, ${pushed.modules.length} modules, ` +
      `bundle ${pushed.hash.slice(0, 12)}…) → ${show(value)}`;
    await step("run", runHealth, describeRun);

    const inbox: Inbox = node.inbox();
    cleanups.push(["inbox", () => inbox.close()]);
    const worker: Pid = await step(
      "spawn",
      () => spawn(remote, WORKER, "loop", [inbox.self], { timeoutMs: STEP_TIMEOUT_MS }),
      (pid) => `worker.ts#loop on ${pid.node}: ${pid}`,
    );

    await step(
      "messages",
      async () => {
        const replies: Done[] = [];
        for (const n of [1, 2, 3]) {
          node.send(worker, { job: n } satisfies Job);
          replies.push(
            await inbox.receive<Done>({
              match: (m) => (m as Done)?.done === n,
              timeoutMs: STEP_TIMEOUT_MS,
            }),
          );
        }
        return replies;
      },
      (replies) =>
        `3 jobs → squares ${replies.map((r) => r.square).join(", ")} from ${replies[0]?.on}`,
    );

    await step("stop actor", async () => {
      const ref = inbox.monitor(worker);
      node.send(worker, "stop");
      return await inbox.receive<DownMessage>({
        match: (m) => (m as DownMessage)?.type === "DOWN" && (m as DownMessage).ref.equals(ref),
        timeoutMs: STEP_TIMEOUT_MS,
      });
    }, (down) => `DOWN, reason ${show(down.reason)}`);

    await step("run again", runHealth, describeRun);

    await step("disconnect", () => remote.close(), () => "agent exited; tunnels and SSH closed");
  } catch (e) {
    failed = true;
    if (!(typeof e === "object" && e && reported.has(e))) log(`✗ ${(e as Error)?.message ?? e}`);
    throw e;
  } finally {
    const errors: string[] = [];
    for (const [what, undo] of cleanups.reverse()) {
      try {
        await undo();
      } catch (e) {
        errors.push(`${what}: ${(e as Error)?.message ?? e}`);
      }
    }
    // A connect given up half-way fails once the server is gone; let it finish.
    if (!connected && connecting) await connecting.then((r) => r.close(), () => {});
    for (const e of errors) log(`  cleanup: ${e}`);
    if (!failed) {
      log("");
      log(
        `done in ${
          (performance.now() - t0).toFixed(0)
        } ms; the server, its processes and the temp dir are gone.`,
      );
    }
  }
}

if (import.meta.main) {
  const abort = new AbortController();
  const onInt = () => abort.abort(new Error("interrupted"));
  Deno.addSignalListener("SIGINT", onInt);
  try {
    await runDemo({ signal: abort.signal });
  } catch {
    Deno.exit(abort.signal.aborted ? 130 : 1);
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
  }
}
