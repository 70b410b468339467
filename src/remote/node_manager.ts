import type { Duplex, Readable } from "node:stream";
import { duplexTransport } from "../dist/transport.ts";
import { ticketFor } from "../dist/credentials.ts";
import { AGENT_EXIT_OLD_DENO, MIN_DENO_VERSION } from "../agent/agent_config.ts";
import { BootstrapError, ConnectError, TimeoutError } from "../errors.ts";
import { fullNodeName, type Node } from "../node.ts";
import type { ExecChannel, ForwardTunnel, ReverseTunnel, SshBackend } from "../ssh/backend.ts";
import { connectSsh } from "../ssh/mod.ts";
import { parseTarget, type Target } from "../ssh/target.ts";
import { Codec } from "../wire/codec.ts";
import { FrameReader } from "../wire/frame.ts";
import { agentBundle } from "./agent_bundle.ts";
import {
  type ConnectionWarning,
  defaultOnWarning,
  exposedTunnelsWarning,
} from "./connection_warning.ts";
import {
  EXIT_BAD_UPLOAD,
  EXIT_NEED_AGENT,
  EXIT_NO_DENO,
  installScript,
  startScript,
} from "./bootstrap_script.ts";
import { acquireDefaultNode, releaseDefaultNode } from "./default_node.ts";
import { installDeno } from "./deno_install.ts";
import { RemoteNode } from "./remote_node.ts";

/**
 * Where a connection stands.
 *
 * @example
 * ```ts ignore
 * const manager = new NodeManager("deploy@web-01");
 * manager.status(); // "disconnected"
 * await manager.connect();
 * manager.status(); // "connected"
 * ```
 */
export type ConnectionStatus = "disconnected" | "connecting" | "connected";

/**
 * Options for {@linkcode NodeManager}.
 *
 * @example
 * ```ts ignore
 * import { Node } from "./mod.ts";
 * await using node = await Node.start({ name: "hub" });
 * const options: NodeManagerOptions = { node, name: "web01", connectTimeoutMs: 30_000 };
 * const manager = new NodeManager("deploy@web-01", options); // agent "web01@localhost"
 * ```
 */
export interface NodeManagerOptions {
  /** The local node (the hub); default a shared node started on first use. */
  node?: Node;
  /** The agent's node name ("web01" becomes "web01@localhost"); default unique per connection. */
  name?: string;
  /** Time the whole connect may take; default 15 000 ms. */
  connectTimeoutMs?: number;
  /**
   * When the server has no Deno (and no target.deno is set), upload the local Deno binary
   * (same OS and CPU, new enough glibc) to ~/.cache/fusion/deno/<version>/deno. The upload
   * does not count against connectTimeoutMs: it fails when it stalls for 30 s instead.
   */
  installDeno?: boolean;
  /** An ssh config file to read instead of ~/.ssh/config. */
  sshConfig?: string;
  /** Tick timeout for the agent's connection; default the local node's. */
  tickTimeoutMs?: number;
  /** Force the node connection over the exec channel even when forwarding works. */
  transport?: "auto" | "tunnel" | "stdio";
  /** Where remote output lines go, prefixed with the node's name; default stderr. */
  output?: (line: string, node: string) => void;
  /** Protocol and SSH logs (`-v`). */
  log?: (line: string) => void;
  /**
   * Gets each warning about the connection (such as the server's sshd exposing the
   * reverse tunnels); default `console.warn` of its message. An error thrown here
   * fails the connect.
   */
  onWarning?: (warning: ConnectionWarning) => void;
}

const STDERR_TAIL_LINES = 20;
const PER_PACKET = /CHANNEL_DATA|CHANNEL_EXTENDED_DATA|CHANNEL_WINDOW_ADJUST/;
// How long disconnect() waits for the agent to exit on EOF before closing its channel.
const AGENT_EXIT_WAIT_MS = 5000;
// The same after the link dropped: the agent's exit is reported at once or never.
const LOST_AGENT_EXIT_WAIT_MS = 1000;
// How long teardown waits for the SSH connection to close.
const SSH_CLOSE_WAIT_MS = 3000;

/**
 * Connects to one server: SSH, tunnels, the agent, the node connection; and
 * takes it all down again. `connect()` twice returns the same RemoteNode.
 *
 * @example
 * ```ts ignore
 * const manager = new NodeManager("deploy@web-01:22", { connectTimeoutMs: 10_000 });
 * const remote = await manager.connect(); // connect() again returns the same RemoteNode
 * console.log(await remote.info());
 * await manager.disconnect();
 * ```
 */
export class NodeManager {
  /** The target as given. */
  readonly target: Target;
  readonly #options: NodeManagerOptions;
  #status: ConnectionStatus = "disconnected";
  #connecting: Promise<RemoteNode> | undefined;
  #session: Session | undefined;
  #disconnecting: Promise<void> | undefined;

  /** Parses a string target (TargetError when malformed); nothing connects before `connect()`. */
  constructor(target: Target | string, options: NodeManagerOptions = {}) {
    this.target = typeof target === "string" ? parseTarget(target) : target;
    this.#options = options;
  }

  /** "disconnected", "connecting" or "connected". */
  status(): ConnectionStatus {
    return this.#status;
  }

  /** Connects (once) and resolves with the remote node. */
  connect(): Promise<RemoteNode> {
    if (this.#session && this.#status === "connected") {
      return Promise.resolve(this.#session.remote!);
    }
    if (this.#connecting) return this.#connecting;
    this.#status = "connecting";
    const previous = this.#disconnecting;
    this.#connecting = (async () => {
      // A connect right after disconnect() waits until the old agent is gone.
      await previous;
      return await this.#connect();
    })().then(
      (s) => {
        this.#connecting = undefined;
        if (s.dropped) {
          // It dropped before it was handed over: a dead RemoteNode, whose calls reject.
          this.#status = "disconnected";
          this.#disconnecting = s.teardown();
        } else {
          this.#session = s;
          this.#status = "connected";
        }
        return s.remote!;
      },
      (e) => {
        this.#status = "disconnected";
        this.#connecting = undefined;
        throw e;
      },
    );
    return this.#connecting;
  }

  /** Stops the agent, closes tunnels and the SSH session; resolves after the agent has exited. */
  async disconnect(): Promise<void> {
    await this.#connecting?.catch(() => {});
    const s = this.#session;
    this.#session = undefined;
    // Also waits for the teardown of a connection that dropped by itself.
    const done = s ? s.teardown() : this.#disconnecting;
    if (done) {
      this.#disconnecting = done;
      await done;
      if (this.#disconnecting === done) this.#disconnecting = undefined;
    }
    if (!this.#connecting) this.#status = "disconnected";
  }

  async #connect(): Promise<Session> {
    const o = this.#options;
    const timeoutMs = o.connectTimeoutMs ?? 15_000;
    const label = this.target.host;
    const session: Session = new Session(this.target, o, {
      lost: (s, teardown) => {
        if (this.#session === s) {
          this.#session = undefined;
          this.#status = "disconnected";
          this.#disconnecting = teardown;
        }
      },
      // RemoteNode.close() is this manager's disconnect() while the session is current.
      close: () => this.#session === session ? this.disconnect() : session.teardown(),
      pauseDeadline: () => {
        clearTimeout(timer);
        left -= performance.now() - armedAt;
        return arm;
      },
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    // The deadline can be paused (for a Deno upload): `left` is what remains of it.
    let left = timeoutMs;
    let armedAt = 0;
    let arm = () => {};
    const timeout = new Promise<never>((_, reject) => {
      arm = () => {
        armedAt = performance.now();
        timer = setTimeout(
          () =>
            reject(
              new TimeoutError(
                `connect to ${label}: "${session.step}" took too long (over ${timeoutMs} ms in all)`,
              ),
            ),
          left,
        );
      };
      arm();
    });
    try {
      await Promise.race([session.open(timeoutMs), timeout]);
      return session;
    } catch (e) {
      await session.teardown();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }
}

interface SessionOwner {
  /** The connection dropped; `teardown` settles when all of it is closed. */
  lost(s: Session, teardown: Promise<void>): void;
  /** RemoteNode.close(). */
  close(): Promise<void>;
  /** Stops the connect deadline; the function returned restarts it with what was left. */
  pauseDeadline(): () => void;
}

/** Everything one connection holds, so that teardown can undo exactly it. */
class Session {
  step = "ssh connect";
  remote: RemoteNode | undefined;
  readonly #target: Target;
  readonly #o: NodeManagerOptions;
  readonly #owner: SessionOwner;
  #node: Node | undefined;
  #ownsNode = false;
  #ssh: SshBackend | undefined;
  #agent: ExecChannel | undefined;
  // Every channel opened, so that a connect given up half-way closes them too.
  #execs = new Set<ExecChannel>();
  #tunnels: (ForwardTunnel | ReverseTunnel)[] = [];
  #stderrTail: string[] = [];
  #unsubscribe: (() => void) | undefined;
  #teardown: Promise<void> | undefined;
  #name = "";
  // Server-side ports of the reverse tunnels (tcp mode).
  #reversePorts = { registry: 0, hub: 0 };
  #dropped = false;
  #t0 = performance.now();

  constructor(target: Target, options: NodeManagerOptions, owner: SessionOwner) {
    this.#target = target;
    this.#o = options;
    this.#owner = owner;
  }

  #log(line: string): void {
    this.#o.log?.(`[fusion ${this.#target.host}] ${line}`);
  }

  #enter(step: string): void {
    if (this.#teardown) throw new ConnectError(`connect to ${this.#target.host} was given up`);
    this.#log(`${step} (${(performance.now() - this.#t0).toFixed(0)} ms)`);
    this.step = step;
  }

  async #exec(command: string): Promise<ExecChannel> {
    const ch = await this.#ssh!.exec(command);
    this.#execs.add(ch);
    ch.exit.then(() => this.#execs.delete(ch));
    if (this.#teardown) ch.close();
    // Write errors (EPIPE when it exits early) are judged by its exit status.
    ch.duplex.on("error", () => {});
    ch.stdin.on("error", () => {});
    return ch;
  }

  async open(timeoutMs: number): Promise<void> {
    const o = this.#o;
    if (o.node) this.#node = o.node;
    else {
      this.#node = await acquireDefaultNode();
      this.#ownsNode = true;
    }
    const node = this.#node;
    if (node.credentials.kind !== "cookie") {
      throw new ConnectError("only a node holding the cookie can be a hub");
    }
    this.#name = fullNodeName(o.name ?? `${hostLabel(this.#target.host)}-${randomHex(4)}`);
    const bundleP = agentBundle();

    this.#enter("ssh connect");
    const ssh = await connectSsh(this.#target, {
      connectTimeoutMs: timeoutMs,
      ...(o.sshConfig !== undefined ? { sshConfig: o.sshConfig } : {}),
      // Per-packet lines would drown the rest (and cost a line per message).
      ...(o.log
        ? {
          debug: (l: string) => {
            if (!PER_PACKET.test(l)) this.#log(l);
          },
        }
        : {}),
    });
    this.#ssh = ssh;
    if (this.#teardown) {
      await ssh.close();
      this.#enter("ssh connect");
    }
    const bundle = await bundleP;

    // The agent's exec first, the reverse tunnels right after (the agent reads its
    // config only once Deno has started). sshd turns Nagle off only when a session
    // runs: before that, its second small reply waits ~40 ms for our delayed ACK.
    this.#enter("start agent");
    const wantTunnel = o.transport !== "stdio";
    let agent = await this.#exec(startScript(bundle.hash, this.#target.deno));
    const reverses = wantTunnel
      ? await Promise.all([ssh.reverse(node.registryPort), ssh.reverse(node.port)]).catch((e) =>
        e as Error
      )
      : new Error("stdio transport requested");
    if (reverses instanceof Error) {
      if (o.transport === "tunnel") {
        throw new ConnectError(`${this.#target.host} refused the tunnels: ${reverses.message}`, {
          cause: reverses,
        });
      }
      this.#log(
        wantTunnel
          ? `TCP forwarding refused (${reverses.message}); the node connection runs over the agent's stdio`
          : "stdio transport requested: the node connection runs over the agent's stdio",
      );
    } else {
      this.#tunnels.push(...reverses);
      this.#reversePorts = { registry: reverses[0].remotePort, hub: reverses[1].remotePort };
    }

    const config = {
      v: 1,
      name: this.#name,
      ticket: ticketFor(node.credentials.cookie, this.#name),
      hub: node.name,
      mode: reverses instanceof Error ? "stdio" : "tcp",
      registryPort: reverses instanceof Error ? 0 : reverses[0].remotePort,
      hubPort: reverses instanceof Error ? 0 : reverses[1].remotePort,
      tickTimeoutMs: o.tickTimeoutMs ?? node.limits.tickTimeoutMs,
    };
    const codec = new Codec();
    let frames = this.#setupFrames(agent.duplex);
    agent.duplex.write(codec.encodeFrame(config));
    this.#watchStderr(agent);

    let first = await firstFrame(frames, agent);
    if ("exit" in first && first.exit === EXIT_NO_DENO && o.installDeno && !this.#target.deno) {
      this.#enter("install deno");
      const resume = this.#owner.pauseDeadline();
      try {
        await installDeno((c) => this.#exec(c), this.#target.host, { log: (l) => this.#log(l) });
      } finally {
        resume();
      }
      this.#enter("start agent");
      agent = await this.#exec(startScript(bundle.hash, this.#target.deno));
      frames = this.#setupFrames(agent.duplex);
      agent.duplex.write(codec.encodeFrame(config));
      this.#watchStderr(agent);
      first = await firstFrame(frames, agent);
    }
    if ("exit" in first && first.exit === EXIT_NEED_AGENT) {
      this.#enter("upload agent");
      this.#log(`uploading the agent (${bundle.code.length} bytes)`);
      await this.#install(bundle.hash, bundle.code);
      this.#enter("start agent");
      agent = await this.#exec(startScript(bundle.hash, this.#target.deno));
      frames = this.#setupFrames(agent.duplex);
      agent.duplex.write(codec.encodeFrame(config));
      this.#watchStderr(agent);
      first = await firstFrame(frames, agent);
    }
    if (!("frame" in first)) throw await this.#bootstrapError(first.exit, agent);
    this.#agent = agent;
    await this.#afterFirstFrame(first.frame, frames, codec);
    this.#log(`connected to ${this.#name} (${(performance.now() - this.#t0).toFixed(0)} ms)`);

    this.remote = new RemoteNode(this.#name, node, () => this.#owner.close());
    this.#unsubscribe = node.onNodeDown((peer) => {
      if (peer === this.#name) this.#lost();
    });
    ssh.onClose(() => this.#lost());
    // The agent may have died between the handshake and here.
    if (!node.nodes().includes(this.#name) || !ssh.connected) this.#lost();
  }

  async #afterFirstFrame(
    first: unknown,
    frames: AsyncIterator<unknown>,
    codec: Codec,
  ): Promise<void> {
    const node = this.#node!;
    const agent = this.#agent!;
    const msg = first as { port?: number; stdio?: boolean };
    if (msg.stdio) {
      this.#enter("handshake");
      agent.duplex.removeAllListeners("data");
      await node.dial(duplexTransport(agent.duplex, `ssh stdio ${this.#target.host}`), this.#name);
      return;
    }
    if (typeof msg.port !== "number") throw await this.#bootstrapError(null, agent);
    this.#enter("forward tunnel");
    const fwd = await this.#ssh!.forward(msg.port);
    this.#tunnels.push(fwd);
    if (this.#teardown) await fwd.close();
    agent.duplex.write(codec.encodeFrame({ advertisedPort: fwd.localPort }));
    this.#enter("registration");
    const reg = await Promise.race([frames.next(), agent.exit]);
    const ready = "done" in reg && !reg.done
      ? reg.value as { registered?: boolean; exposed?: unknown }
      : undefined;
    if (!ready?.registered) throw await this.#bootstrapError(null, agent);
    const warning = exposedTunnelsWarning(ready.exposed, {
      ...this.#reversePorts,
      host: this.#target.host,
      node: this.#name,
    });
    if (warning) (this.#o.onWarning ?? defaultOnWarning)(warning);
    this.#forwardStdout(agent.duplex);
    this.#enter("handshake");
    await node.connect(this.#name);
  }

  // Setup frames from the agent's stdout, one at a time.
  #setupFrames(stream: Duplex): AsyncIterator<unknown> {
    const reader = new FrameReader({ maxFrameBytes: 64 * 1024 });
    const codec = new Codec();
    const queue: unknown[] = [];
    const waiters: ((r: IteratorResult<unknown>) => void)[] = [];
    let ended = false;
    stream.on("data", (chunk: Uint8Array) => {
      try {
        reader.push(chunk, (body) => {
          const v = codec.decode(body);
          const w = waiters.shift();
          if (w) w({ value: v, done: false });
          else queue.push(v);
        });
      } catch { /* garbage on stdout: the agent will be judged by its exit */ }
    });
    stream.on("end", () => {
      ended = true;
      for (const w of waiters.splice(0)) w({ value: undefined, done: true });
    });
    return {
      next: () => {
        if (queue.length) return Promise.resolve({ value: queue.shift(), done: false });
        if (ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((r) => waiters.push(r));
      },
    };
  }

  #forwardStdout(stream: Duplex): void {
    stream.removeAllListeners("data");
    this.#lines(stream, (line) => this.#output(line));
  }

  #watchStderr(agent: ExecChannel): void {
    this.#lines(agent.stderr, (line) => {
      this.#stderrTail.push(line);
      if (this.#stderrTail.length > STDERR_TAIL_LINES) this.#stderrTail.shift();
      if (this.#agent === agent) this.#output(line);
    });
  }

  #output(line: string): void {
    if (this.#o.output) this.#o.output(line, this.#name);
    else console.error(`[${this.#name}] ${line}`);
  }

  #lines(stream: Readable, onLine: (line: string) => void): void {
    const dec = new TextDecoder();
    let buf = "";
    stream.on("data", (chunk: Uint8Array) => {
      buf += dec.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      if (buf.length > 64 * 1024) {
        onLine(buf);
        buf = "";
      }
    });
    stream.on("end", () => {
      if (buf) onLine(buf);
    });
  }

  async #install(hash: string, code: Uint8Array): Promise<void> {
    const ch = await this.#exec(installScript(hash));
    ch.stdout.resume(); // the channel closes only once its output is read
    this.#watchStderr(ch);
    ch.stdin.end(code);
    const { code: status } = await ch.exit;
    if (status === 0) return;
    if (status === EXIT_BAD_UPLOAD) {
      throw new BootstrapError(`the agent uploaded to ${this.#target.host} failed its hash check`);
    }
    throw await this.#bootstrapError(status, ch, "installing the agent");
  }

  async #bootstrapError(
    code: number | null,
    ch: ExecChannel,
    doing = "starting the agent",
  ): Promise<BootstrapError> {
    // Let the stderr tail arrive: it is the useful part.
    await Promise.race([ch.exit, delay(1000)]);
    const host = this.#target.host;
    const stderr = this.#stderrTail.join("\n");
    if (code === EXIT_NO_DENO) {
      const deno = this.#target.deno;
      return new BootstrapError(
        deno
          ? `Deno was not found on ${host} at ${deno} (target.deno); install it there or fix target.deno`
          : `Deno was not found on ${host}; install it or set target.deno`,
        { stderr },
      );
    }
    if (code === AGENT_EXIT_OLD_DENO) {
      const version = /Deno (\S+) is too old/.exec(stderr)?.[1] ?? "(unknown version)";
      const where = this.#target.deno ? ` at ${this.#target.deno}` : "";
      return new BootstrapError(
        `the Deno on ${host}${where} is too old: ${version}; Fusion needs ${MIN_DENO_VERSION} or newer (upgrade it or set target.deno)`,
        { stderr },
      );
    }
    const tail = stderr ? `:\n${stderr}` : "";
    return new BootstrapError(
      `${doing} on ${host} failed (exit status ${code ?? "none"})${tail}`,
      { stderr },
    );
  }

  /** True once the connection has dropped by itself. */
  get dropped(): boolean {
    return this.#dropped;
  }

  #lost(): void {
    if (this.#teardown) return;
    this.#dropped = true;
    this.#log(`lost the connection to ${this.#name}`);
    this.#owner.lost(this, this.teardown());
  }

  teardown(): Promise<void> {
    return this.#teardown ??= (async () => {
      this.#unsubscribe?.();
      const node = this.#node;
      const agent = this.#agent;
      if (agent) {
        // EOF on stdin tells the agent to exit; wait for it, then pull the plug.
        agent.duplex.end();
        node?.disconnectNode(this.#name);
        const waitMs = this.#dropped ? LOST_AGENT_EXIT_WAIT_MS : AGENT_EXIT_WAIT_MS;
        const exited = await Promise.race([
          agent.exit.then(() => true),
          delay(waitMs).then(() => false),
        ]);
        if (!exited) this.#log(`${this.#name} did not exit within ${waitMs} ms of EOF`);
      }
      for (const ch of this.#execs) ch.close();
      // A link that went silent never answers tunnel cancels: the SSH close covers them.
      await Promise.race([Promise.allSettled(this.#tunnels.map((t) => t.close())), delay(2000)]);
      // On a silently dead link the ssh2 backend's close() can wait for a FIN that never comes.
      const ssh = this.#ssh;
      if (ssh) {
        const closed = await Promise.race([ssh.close().then(() => true), delay(SSH_CLOSE_WAIT_MS)]);
        if (!closed) this.#log(`the SSH connection did not close within ${SSH_CLOSE_WAIT_MS} ms`);
      }
      // ssh2 may never report the exit of a channel closed just before the connection.
      await Promise.race([Promise.all([...this.#execs].map((ch) => ch.exit)), delay(1000)]);
      if (this.#ownsNode) {
        this.#ownsNode = false;
        await releaseDefaultNode();
      }
    })();
  }
}

// The agent's first setup frame, or its exit status when it ended instead.
async function firstFrame(
  frames: AsyncIterator<unknown>,
  agent: ExecChannel,
): Promise<{ frame: unknown } | { exit: number | null }> {
  const r = await Promise.race([frames.next(), agent.exit]);
  if ("code" in r) return { exit: r.code };
  if (r.done) return { exit: (await agent.exit).code };
  return { frame: r.value };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(r, ms);
    Deno.unrefTimer(t);
  });
}

function hostLabel(host: string): string {
  return host.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 40) || "remote";
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/**
 * Options for {@linkcode connect}: the manager's.
 *
 * @example
 * ```ts ignore
 * import { Node } from "./mod.ts";
 * await using node = await Node.start({ name: "hub" });
 * const options: ConnectOptions = { node, name: "web01", transport: "stdio" };
 * await using remote = await connect("deploy@web-01", options); // remote.name: "web01@localhost"
 * ```
 */
export type ConnectOptions = NodeManagerOptions;

/**
 * Connects to a server and resolves with its node: `new NodeManager(target, options).connect()`.
 *
 * @example
 * ```ts ignore
 * import { Node } from "./mod.ts";
 * await using node = await Node.start({ name: "app" });
 * await using remote = await connect("deploy@web-01", { node });
 * await remote.runFun(() => Deno.hostname()); // "web-01"
 * ```
 */
export function connect(
  target: Target | string,
  options: ConnectOptions = {},
): Promise<RemoteNode> {
  return new NodeManager(target, options).connect();
}
