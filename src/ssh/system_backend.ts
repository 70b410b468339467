/**
 * The `system` backend: OpenSSH's `ssh` binary. One ControlMaster per
 * connection, run in the foreground under a small watchdog shell that kills
 * it when this process goes away (even on SIGKILL: the watchdog reads our pipe).
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import type { Duplex } from "node:stream";
import { AuthError, ConnectError, HostKeyError, TargetError, TimeoutError } from "../errors.ts";
import type {
  ExecChannel,
  ExecExit,
  ExecOptions,
  ForwardOptions,
  ForwardTunnel,
  ReverseOptions,
  ReverseTunnel,
  SshBackend,
  SshCloseInfo,
  UploadOptions,
} from "./backend.ts";
import { CloseSignal, collect, joinStreams, splice, uploadViaExec } from "./_common.ts";
import { homeDir } from "./_paths.ts";
import { keyTypeLabel, loadKnownHosts } from "./known_hosts.ts";
import { describe, type ResolvedTarget } from "./resolve.ts";
import { sshBinaryAvailable } from "./ssh_config.ts";
import type { Target } from "./target.ts";

/** Options for {@linkcode connectSystem}. */
export interface SystemConnectOptions {
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  /** The ssh binary (default "ssh"). */
  sshBinary: string;
  debug?: (line: string) => void;
}

// Runs "$@" (the master); kills it when our end of stdin closes (we closed it or died).
const WATCHDOG = [
  "exec 3<&0",
  '"$@" </dev/null 3<&- &',
  "p=$!",
  '{ read -r _ <&3; kill -TERM "$p" 2>/dev/null; } &',
  "w=$!",
  "exec 3<&-",
  'wait "$p"; s=$?',
  'kill "$w" 2>/dev/null',
  'exit "$s"',
].join("\n");

const JUMP_RE = /^[A-Za-z0-9_.@:,\[\]%\/-]+$/;

function cfgQuote(s: string): string {
  if (/["\n\r]/.test(s)) {
    throw new TargetError(`path not usable in an ssh config: ${JSON.stringify(s)}`);
  }
  return `"${s}"`;
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0] ?? "";
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

function buildConfig(t: Target, r: ResolvedTarget, o: SystemConnectOptions): string {
  const lines = [
    "Host *",
    "  BatchMode yes",
    "  ExitOnForwardFailure yes",
    "  PasswordAuthentication no",
    "  KbdInteractiveAuthentication no",
    "  CheckHostIP no",
    "  UpdateHostKeys no",
    "  ControlPersist no",
    `  ConnectTimeout ${Math.max(1, Math.ceil(o.connectTimeoutMs / 1000))}`,
    `  ServerAliveInterval ${Math.max(0, Math.round(o.keepaliveIntervalMs / 1000))}`,
    `  ServerAliveCountMax ${o.keepaliveCountMax}`,
  ];
  if (r.policy === "insecure") {
    lines.push(
      "  StrictHostKeyChecking no",
      "  UserKnownHostsFile /dev/null",
      "  GlobalKnownHostsFile /dev/null",
    );
  } else {
    lines.push(`  StrictHostKeyChecking ${r.policy === "strict" ? "yes" : "accept-new"}`);
    if (r.knownHostsExplicit) {
      lines.push(`  UserKnownHostsFile ${r.knownHosts.map(cfgQuote).join(" ")}`);
    }
  }
  const auth = t.auth;
  if (auth && "key" in auth) {
    const key = r.credentials[0];
    if (key?.type === "key") {
      lines.push(`  IdentityFile ${cfgQuote(key.path)}`, "  IdentitiesOnly yes");
    }
  } else if (auth && "agent" in auth) {
    const agent = r.credentials[0];
    if (agent?.type === "agent") lines.push(`  IdentityAgent ${cfgQuote(agent.socket)}`);
  }
  if (r.configFile === "/dev/null") {
    // like `ssh -F /dev/null`: no config at all
  } else if (r.configFile !== undefined) {
    lines.push(`  Include ${cfgQuote(r.configFile)}`);
  } else {
    const user = `${homeDir()}/.ssh/config`;
    lines.push(`  Include ${cfgQuote(user)}`, "  Include /etc/ssh/ssh_config");
  }
  return lines.join("\n") + "\n";
}

let swept = false;

/** Removes private dirs left by processes that died (their masters died with them). */
function sweepStaleDirs(parent: string): void {
  if (swept) return;
  swept = true;
  try {
    Deno.statSync("/proc/self");
    for (const e of Deno.readDirSync(parent)) {
      const m = /^fusion-ssh-(\d+)-/.exec(e.name);
      if (!m || m[1] === String(Deno.pid)) continue;
      try {
        Deno.statSync(`/proc/${m[1]}`);
      } catch {
        Deno.removeSync(`${parent}/${e.name}`, { recursive: true });
      }
    }
  } catch {
    // no /proc, or not ours to remove: leave it
  }
}

/** Connects with the ssh binary. `t` is the target as given, `r` the same resolved. */
export async function connectSystem(
  t: Target,
  r: ResolvedTarget,
  options: SystemConnectOptions,
): Promise<SshBackend> {
  const who = describe(r);
  if (!(await sshBinaryAvailable(options.sshBinary))) {
    throw new ConnectError(
      `sshBackend "system" needs the OpenSSH client ("${options.sshBinary}" does not run); ` +
        `install openssh-client or use sshBackend "ssh2"`,
    );
  }
  const auth = t.auth;
  if (auth && "password" in auth) {
    throw new AuthError(
      `the system ssh backend does not take passwords (it never puts one on a command line): ` +
        `use a key or the ssh agent for ${who}, or sshBackend "ssh2"`,
    );
  }
  if (auth && "key" in auth) {
    if (auth.passphrase !== undefined) {
      throw new AuthError(
        `the system ssh backend cannot pass a key passphrase: load the key into ssh-agent ` +
          `(ssh-add) and use auth { agent: true }, or use sshBackend "ssh2" (${who})`,
      );
    }
    const key = r.credentials[0];
    if (key?.type === "key") {
      try {
        await Deno.readFile(key.path);
      } catch (e) {
        throw new AuthError(
          e instanceof Deno.errors.NotFound
            ? `key file ${key.path} does not exist`
            : `cannot read key file ${key.path}: ${firstLine(e)}`,
          { cause: e },
        );
      }
    }
  }
  if (auth && "agent" in auth) {
    const agent = r.credentials[0];
    if (agent?.type === "agent" && !(await fileExists(agent.socket))) {
      throw new AuthError(
        `ssh-agent socket ${agent.socket} does not exist (is the agent running?)`,
      );
    }
  }
  if (r.policy !== "insecure") await loadKnownHosts(r.knownHosts); // unreadable → one-line error
  if (r.policy === "accept-new") {
    // ssh creates only ~/.ssh itself; make the file's directory like the ssh2 backend does.
    await Deno.mkdir(dirname(r.knownHosts[0]!), { recursive: true, mode: 0o700 });
  }
  if (t.proxyJump !== undefined && (!JUMP_RE.test(t.proxyJump) || t.proxyJump.startsWith("-"))) {
    throw new TargetError(`malformed proxyJump "${t.proxyJump}"`);
  }

  const dir = await Deno.makeTempDir({ prefix: `fusion-ssh-${Deno.pid}-` });
  await Deno.chmod(dir, 0o700);
  sweepStaleDirs(dirname(dir));
  const configPath = `${dir}/config`;
  await Deno.writeTextFile(configPath, buildConfig(t, r, options), { mode: 0o600 });
  const ctl = `${dir}/ctl`;
  const destination: string[] = [];
  if (t.port !== undefined) destination.push("-p", String(t.port));
  if (t.username !== undefined) destination.push("-l", t.username);
  if (t.proxyJump !== undefined) destination.push("-o", `ProxyJump=${t.proxyJump}`);
  destination.push("--", t.host);
  const base = ["-F", configPath, "-S", ctl];

  const masterArgs = [...base, "-M", "-N", "-v", "-o", "ControlMaster=yes", ...destination];
  options.debug?.(`system ssh: ${options.sshBinary} ${masterArgs.join(" ")}`);
  // Its own session: signals meant for this process group (a terminal's Ctrl-C) do not hit the
  // master directly, and nothing the master or its watchdog does reaches this process's group.
  const master = spawn("sh", ["-c", WATCHDOG, "sh", options.sshBinary, ...masterArgs], {
    stdio: ["pipe", "ignore", "pipe"],
    detached: true,
  });
  const log: string[] = [];
  const info = { fingerprint: "", keyType: "", methods: "", offered: [] as string[] };
  let step = "TCP connect";
  let buf = "";
  master.stderr!.setEncoding("utf8");
  master.stderr!.on("data", (chunk: string) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i).replace(/\r$/, "");
      buf = buf.slice(i + 1);
      options.debug?.(`ssh: ${line}`);
      log.push(line);
      if (log.length > 200) log.shift();
      let m;
      if (/Remote protocol version|Local version string/.test(line)) step = "SSH handshake";
      if ((m = /Server host key: (\S+) (SHA256:\S+)/.exec(line))) {
        info.keyType = m[1]!;
        info.fingerprint = m[2]!;
        step = "host key check";
      }
      if (/SSH2_MSG_SERVICE_ACCEPT|Authentications that can continue/.test(line)) {
        step = "authentication";
      }
      if ((m = /Authentications that can continue: (\S+)/.exec(line))) info.methods = m[1]!;
      if ((m = /(?:Offering public key|Trying private key): (\S+)/.exec(line))) {
        if (!info.offered.includes(m[1]!)) info.offered.push(m[1]!);
      }
      if (
        /Authenticated to|Entering interactive session|multiplexing control connection/.test(line)
      ) {
        step = "starting the session";
      }
    }
  });
  master.stdin!.on("error", () => {});
  const masterExit = new Promise<number | null>((res) => master.once("close", (code) => res(code)));

  const cleanupDir = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  const deadline = Date.now() + options.connectTimeoutMs;
  let exited = false;
  masterExit.then(() => (exited = true));
  try {
    for (;;) {
      if (exited) {
        await masterExit;
        throw mapMasterError(log, who, r, info);
      }
      if (await fileExists(ctl)) break;
      if (Date.now() >= deadline) {
        throw new TimeoutError(
          `connecting to ${who} timed out after ${options.connectTimeoutMs} ms during ${step}`,
        );
      }
      await new Promise((res) => setTimeout(res, 15));
    }
  } catch (e) {
    master.stdin!.end();
    await masterExit;
    await cleanupDir();
    throw e;
  }
  return new SystemBackend(r, options, {
    master,
    masterExit,
    base,
    destination,
    dir,
    log,
  });
}

function mapMasterError(
  log: string[],
  who: string,
  r: ResolvedTarget,
  info: { fingerprint: string; keyType: string; methods: string; offered: string[] },
): Error {
  const text = log.filter((l) => !l.startsWith("debug")).join("\n");
  const tail = log.filter((l) =>
    !l.startsWith("debug") && l.trim() !== "" && !/^@+$/.test(l.trim())
  )
    .slice(-3).join(" / ");
  const name = r.port === 22 ? r.host : `[${r.host}]:${r.port}`;
  const fp = info.fingerprint ? `${keyTypeLabel(info.keyType)} ${info.fingerprint}` : "its key";
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/.test(text)) {
    return Object.assign(
      new HostKeyError(
        `HOST KEY CHANGED for ${name}: the server offered ${fp}, which does not match known_hosts ` +
          `(${
            r.knownHosts.join(", ")
          }). Someone may be intercepting the connection, or the server was ` +
          `reinstalled. If the change is expected, remove the old key with: ssh-keygen -R '${name}' -f ` +
          `${r.knownHosts[0]}`,
      ),
      {
        details: {
          reason: "changed",
          host: name,
          fingerprint: info.fingerprint,
          keyType: info.keyType,
          knownHostsFiles: r.knownHosts,
        },
      },
    );
  }
  if (/Host key verification failed|host key is known for|No .* host key is known/.test(text)) {
    return Object.assign(
      new HostKeyError(
        `unknown host key for ${name}: the server offered ${fp}, and no entry in ` +
          `${
            r.knownHosts.join(", ")
          } matches this host. If the fingerprint is right, add the key ` +
          `(ssh-keyscan${
            r.port === 22 ? "" : ` -p ${r.port}`
          } ${r.host} prints it) or connect once ` +
          `with hostKeys.policy "accept-new"`,
      ),
      {
        details: {
          reason: "unknown",
          host: name,
          fingerprint: info.fingerprint,
          keyType: info.keyType,
          knownHostsFiles: r.knownHosts,
        },
      },
    );
  }
  const denied = /Permission denied \(([^)]*)\)/.exec(text);
  if (denied) {
    const tried = info.offered.length
      ? info.offered.map((k) => `publickey ${k}`).join(", ")
      : "publickey";
    return new AuthError(
      `authentication failed for ${who}: the server refused ${tried}; the server allows: ${
        denied[1]
      }`,
    );
  }
  if (/Connection timed out|Operation timed out|timed out during banner/.test(text)) {
    return new TimeoutError(`connecting to ${who} timed out: ${tail}`);
  }
  if (/Connection refused/.test(text)) {
    return new ConnectError(`connection refused by ${r.host}:${r.port} (is sshd listening there?)`);
  }
  if (/Could not resolve hostname/.test(text)) {
    return new ConnectError(`cannot resolve host "${r.host}"`);
  }
  if (/No route to host|Network is unreachable/.test(text)) {
    return new ConnectError(`${r.host}:${r.port} is unreachable`);
  }
  return new ConnectError(`ssh to ${who} failed: ${tail || "the ssh client exited"}`);
}

interface MasterState {
  master: ChildProcess;
  masterExit: Promise<number | null>;
  base: string[];
  destination: string[];
  dir: string;
  log: string[];
}

class SystemBackend implements SshBackend {
  readonly kind = "system" as const;
  readonly remote;
  readonly #o: SystemConnectOptions;
  readonly #m: MasterState;
  readonly #close = new CloseSignal();
  readonly #children = new Set<ChildProcess>();
  readonly #servers = new Set<Server>();
  readonly #sockets = new Set<Socket>();
  #requested = false;
  #seq = 0;

  constructor(r: ResolvedTarget, o: SystemConnectOptions, m: MasterState) {
    this.remote = { host: r.host, port: r.port, username: r.username, alias: r.alias };
    this.#o = o;
    this.#m = m;
    m.masterExit.then((code) => this.#onMasterExit(code));
  }

  get closed(): Promise<SshCloseInfo> {
    return this.#close.promise;
  }

  get connected(): boolean {
    return !this.#close.fired;
  }

  onClose(listener: (info: SshCloseInfo) => void): () => void {
    return this.#close.on(listener);
  }

  async #onMasterExit(code: number | null): Promise<void> {
    for (const c of this.#children) c.kill("SIGKILL");
    for (const s of this.#servers) s.close();
    for (const s of this.#sockets) s.destroy();
    await Promise.all(
      [...this.#children].map((c) =>
        c.exitCode !== null || c.signalCode !== null
          ? undefined
          : new Promise((res) => c.once("close", res))
      ),
    );
    await Deno.remove(this.#m.dir, { recursive: true }).catch(() => {});
    if (this.#requested) {
      this.#close.fire({ requested: true });
      return;
    }
    const tail = this.#m.log.filter((l) => !l.startsWith("debug")).slice(-3).join(" / ");
    this.#close.fire({
      requested: false,
      error: new ConnectError(
        `connection to ${describe(this.remote)} dropped (ssh exited ${code ?? "by a signal"})${
          tail ? `: ${tail}` : ""
        }`,
      ),
    });
  }

  #ensureOpen(): void {
    if (this.#close.fired || this.#requested) {
      throw new ConnectError(`the SSH connection to ${describe(this.remote)} is closed`);
    }
  }

  #spawn(args: string[]): ChildProcess {
    const full = [...this.#m.base, "-o", "ControlMaster=no", ...args];
    this.#o.debug?.(`system ssh: ${this.#o.sshBinary} ${full.join(" ")}`);
    const child = spawn(this.#o.sshBinary, full, { stdio: ["pipe", "pipe", "pipe"] });
    this.#children.add(child);
    child.once("close", () => this.#children.delete(child));
    child.stdin!.on("error", () => {});
    return child;
  }

  /** Runs a control command (-O ...) and returns its stdout. */
  async #control(args: string[]): Promise<string> {
    const child = this.#spawn([...args, ...this.#m.destination]);
    child.stdin!.end();
    const [out, err, code] = await Promise.all([
      collect(child.stdout!),
      collect(child.stderr!),
      new Promise<number | null>((res) => child.once("close", (c) => res(c))),
    ]);
    const dec = new TextDecoder();
    if (code !== 0) {
      throw new ConnectError(
        `ssh ${args.join(" ")} on ${describe(this.remote)} failed: ${
          dec.decode(err).trim().split("\n").slice(-2).join(" / ")
        }`,
      );
    }
    return dec.decode(out);
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecChannel> {
    this.#ensureOpen();
    const child = this.#spawn(["-T", ...this.#m.destination, command]);
    const exit = new Promise<ExecExit>((res) =>
      child.once("close", (code, signal) => {
        res({
          code: typeof code === "number" ? code : null,
          signal: signal ? String(signal).replace(/^SIG/, "") : null,
        });
      })
    );
    const onAbort = () => child.kill("SIGTERM");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    exit.then(() => options.signal?.removeEventListener("abort", onAbort));
    let duplex: Duplex | undefined;
    return await Promise.resolve({
      stdin: child.stdin!,
      stdout: child.stdout!,
      stderr: child.stderr!,
      get duplex() {
        duplex ??= joinStreams(child.stdout!, child.stdin!);
        return duplex;
      },
      exit,
      close: () => {
        child.kill("SIGTERM");
      },
    });
  }

  async dial(remoteHost: string, remotePort: number): Promise<Duplex> {
    this.#ensureOpen();
    const host = remoteHost.includes(":") ? `[${remoteHost}]` : remoteHost;
    const child = this.#spawn(["-W", `${host}:${remotePort}`, ...this.#m.destination]);
    child.stderr!.resume();
    const d = joinStreams(child.stdout!, child.stdin!);
    d.on("error", () => {});
    d.once("close", () => child.kill("SIGTERM"));
    return await Promise.resolve(d);
  }

  async forward(remotePort: number, options: ForwardOptions = {}): Promise<ForwardTunnel> {
    this.#ensureOpen();
    const remoteHost = options.remoteHost ?? "127.0.0.1";
    const sockPath = `${this.#m.dir}/fwd-${++this.#seq}`;
    const host = remoteHost.includes(":") ? `[${remoteHost}]` : remoteHost;
    const spec = `${sockPath}:${host}:${remotePort}`;
    // ssh forwards a private Unix socket; this process bridges 127.0.0.1:0 to it, so the
    // local port is the kernel's choice and known without a race.
    await this.#control(["-O", "forward", "-L", spec]);
    const sockets = new Set<Socket>();
    const server = createServer({ noDelay: true }, (socket) => {
      socket.setNoDelay(true);
      socket.on("error", () => {});
      sockets.add(socket);
      this.#sockets.add(socket);
      socket.once("close", () => {
        sockets.delete(socket);
        this.#sockets.delete(socket);
      });
      const upstream = createConnection({ path: sockPath });
      upstream.on("error", () => {});
      splice(socket, upstream);
    });
    this.#servers.add(server);
    const localPort = await new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: "127.0.0.1", port: 0 }, () => {
        const addr = server.address();
        resolve(typeof addr === "object" && addr ? addr.port : 0);
      });
    }).catch((e) => {
      this.#servers.delete(server);
      throw new ConnectError(`cannot listen on 127.0.0.1: ${firstLine(e)}`, { cause: e });
    });
    let closing: Promise<void> | undefined;
    return {
      localHost: "127.0.0.1",
      localPort,
      remoteHost,
      remotePort,
      close: () => {
        closing ??= (async () => {
          this.#servers.delete(server);
          for (const s of sockets) s.destroy();
          await new Promise<void>((res) => server.close(() => res()));
          if (!this.#close.fired) await this.#control(["-O", "cancel", "-L", spec]).catch(() => {});
          await Deno.remove(sockPath).catch(() => {});
        })();
        return closing;
      },
    };
  }

  async reverse(localPort: number, options: ReverseOptions = {}): Promise<ReverseTunnel> {
    this.#ensureOpen();
    const localHost = options.localHost ?? "127.0.0.1";
    const asked = options.remotePort ?? 0;
    // sshd connects back to a private Unix socket that this process bridges to
    // localHost:localPort. Each tunnel has its own socket, so two tunnels to one
    // local port are two forwards (ssh's mux would merge "-R 0:host:port" twins).
    const sockPath = `${this.#m.dir}/rev-${++this.#seq}`;
    const sockets = new Set<Socket>();
    const server = createServer((sock) => {
      sock.on("error", () => {});
      sockets.add(sock);
      this.#sockets.add(sock);
      sock.once("close", () => {
        sockets.delete(sock);
        this.#sockets.delete(sock);
      });
      const local = createConnection({ host: localHost, port: localPort, noDelay: true });
      local.on("error", () => {});
      local.once("connect", () => local.setNoDelay(true));
      splice(sock, local);
    });
    this.#servers.add(server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ path: sockPath }, () => resolve());
    });
    const spec = `127.0.0.1:${asked}:${sockPath}`;
    let out: string;
    try {
      out = await this.#control(["-O", "forward", "-R", spec]);
    } catch (e) {
      this.#servers.delete(server);
      server.close();
      throw new ConnectError(
        `${describe(this.remote)} refused a reverse tunnel (is AllowTcpForwarding off?): ${
          firstLine(e)
        }`,
        { cause: e },
      );
    }
    const remotePort = asked === 0 ? Number(out.trim().split(/\s+/).pop()) : asked;
    if (!Number.isInteger(remotePort) || remotePort <= 0) {
      throw new ConnectError(`ssh did not report the reverse tunnel's port (got "${out.trim()}")`);
    }
    let closing: Promise<void> | undefined;
    return {
      remoteHost: "127.0.0.1",
      remotePort,
      localHost,
      localPort,
      close: () => {
        closing ??= (async () => {
          if (!this.#close.fired) await this.#control(["-O", "cancel", "-R", spec]).catch(() => {});
          this.#servers.delete(server);
          for (const s of sockets) s.destroy();
          await new Promise<void>((res) => server.close(() => res()));
        })();
        return closing;
      },
    };
  }

  upload(path: string, data: Uint8Array, options: UploadOptions = {}): Promise<void> {
    return uploadViaExec((c) => this.exec(c), path, data, options);
  }

  async close(): Promise<void> {
    if (!this.#close.fired && !this.#requested) {
      this.#requested = true;
      for (const s of this.#servers) s.close();
      // Closing the watchdog's stdin makes it stop the master.
      this.#m.master.stdin!.end();
      const timer = setTimeout(() => this.#m.master.kill("SIGKILL"), 3000);
      await this.#m.masterExit;
      clearTimeout(timer);
    }
    await this.#close.promise;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
