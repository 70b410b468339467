import type { Duplex, Readable } from "node:stream";
import { duplexTransport } from "../dist/transport.ts";
import { ticketFor } from "../dist/credentials.ts";
import { BootstrapError, ConnectError, TimeoutError } from "../errors.ts";
import { fullNodeName, Node } from "../node.ts";
import type { ExecChannel, ForwardTunnel, ReverseTunnel, SshBackend } from "../ssh/backend.ts";
import { connectSsh } from "../ssh/mod.ts";
import { parseTarget, type Target } from "../ssh/target.ts";
import { Codec } from "../wire/codec.ts";
import { FrameReader } from "../wire/frame.ts";
import { agentBundle } from "./agent_bundle.ts";
import {
  EXIT_BAD_UPLOAD,
  EXIT_NEED_AGENT,
  EXIT_NO_DENO,
  installScript,
  startScript,
} from "./bootstrap_script.ts";
import { acquireDefaultNode, releaseDefaultNode } from "./default_node.ts";
import { RemoteNode } from "./remote_node.ts";

/** Where a connection stands. */
export type ConnectionStatus = "disconnected" | "connecting" | "connected";

/** Options for {@linkcode NodeManager}. */
export interface NodeManagerOptions {
  /** The local node (the hub); default a shared node started on first use. */
  node?: Node;
  /** The agent's node name ("web01" becomes "web01@localhost"); default unique per connection. */
  name?: string;
  /** Time the whole connect may take; default 15 000 ms. */
  connectTimeoutMs?: number;
  /** Upload Deno when the server has none (not supported yet: refused with BootstrapError). */
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
}

const STDERR_TAIL_LINES = 20;

/**
 * Connects to one server: SSH, tunnels, the agent, the node connection; and
 * takes it all down again. `connect()` twice returns the same RemoteNode.
 */
export class NodeManager {
  /** The target as given. */
  readonly target: Target;
  readonly #options: NodeManagerOptions;
  #status: ConnectionStatus = "disconnected";
  #connecting: Promise<RemoteNode> | undefined;
  #session: Session | undefined;

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
    this.#connecting = this.#connect().then(
      (s) => {
        this.#session = s;
        this.#status = "connected";
        this.#connecting = undefined;
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
    await s?.teardown();
    this.#status = "disconnected";
  }

  async #connect(): Promise<Session> {
    const o = this.#options;
    const timeoutMs = o.connectTimeoutMs ?? 15_000;
    const label = this.target.host;
    const session = new Session(this.target, o, (s) => {
      if (this.#session === s) {
        this.#session = undefined;
        this.#status = "disconnected";
      }
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new TimeoutError(
              `connect to ${label}: "${session.step}" took too long (over ${timeoutMs} ms in all)`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      await Promise.race([session.open(), timeout]);
      return session;
    } catch (e) {
      await session.teardown();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Everything one connection holds, so that teardown can undo exactly it. */
class Session {
  step = "ssh connect";
  remote: RemoteNode | undefined;
  readonly #target: Target;
  readonly #o: NodeManagerOptions;
  readonly #onLost: (s: Session) => void;
  #node: Node | undefined;
  #ownsNode = false;
  #ssh: SshBackend | undefined;
  #agent: ExecChannel | undefined;
  #tunnels: (ForwardTunnel | ReverseTunnel)[] = [];
  #stderrTail: string[] = [];
  #unsubscribe: (() => void) | undefined;
  #teardown: Promise<void> | undefined;
  #name = "";

  constructor(target: Target, options: NodeManagerOptions, onLost: (s: Session) => void) {
    this.#target = target;
    this.#o = options;
    this.#onLost = onLost;
  }

  #log(line: string): void {
    this.#o.log?.(`[fusion ${this.#target.host}] ${line}`);
  }

  async open(): Promise<void> {
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

    this.step = "ssh connect";
    const ssh = this.#ssh = await connectSsh(this.#target, {
      ...(o.sshConfig !== undefined ? { sshConfig: o.sshConfig } : {}),
      ...(o.log ? { debug: (l: string) => this.#log(l) } : {}),
    });
    const bundle = await bundleP;

    // The reverse tunnels and the agent's exec go out together: one round trip.
    this.step = "start agent";
    const wantTunnel = o.transport !== "stdio";
    const reversesP = wantTunnel
      ? Promise.all([ssh.reverse(node.registryPort), ssh.reverse(node.port)]).catch((e) =>
        e as Error
      )
      : Promise.resolve(new Error("stdio transport requested"));
    let agent = await ssh.exec(startScript(bundle.hash, this.#target.deno));
    const reverses = await reversesP;
    if (reverses instanceof Error) {
      if (o.transport === "tunnel") {
        throw new ConnectError(`${this.#target.host} refused the tunnels: ${reverses.message}`, {
          cause: reverses,
        });
      }
      this.#log(
        `TCP forwarding refused (${reverses.message}); the node connection runs over the agent's stdio`,
      );
    } else this.#tunnels.push(...reverses);

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
    agent.duplex.on("error", () => {/* judged by its exit status */});
    let frames = this.#setupFrames(agent.duplex);
    agent.duplex.write(codec.encodeFrame(config));
    this.#watchStderr(agent);

    let first = await firstFrame(frames, agent);
    if (first.exit === EXIT_NEED_AGENT) {
      this.step = "upload agent";
      this.#log(`uploading the agent (${bundle.code.length} bytes)`);
      await this.#install(ssh, bundle.hash, bundle.code);
      this.step = "start agent";
      agent = await ssh.exec(startScript(bundle.hash, this.#target.deno));
      agent.duplex.on("error", () => {/* judged by its exit status */});
      frames = this.#setupFrames(agent.duplex);
      agent.duplex.write(codec.encodeFrame(config));
      this.#watchStderr(agent);
      first = await firstFrame(frames, agent);
    }
    if (!("frame" in first)) throw this.#bootstrapError(first.exit);
    this.#agent = agent;
    await this.#afterFirstFrame(first.frame, frames, codec);

    this.remote = new RemoteNode(this.#name, node, () => this.teardown());
    this.#unsubscribe = node.onNodeDown((peer) => {
      if (peer === this.#name) this.#lost();
    });
    ssh.onClose(() => this.#lost());
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
      this.step = "handshake";
      agent.duplex.removeAllListeners("data");
      await node.dial(duplexTransport(agent.duplex, `ssh stdio ${this.#target.host}`), this.#name);
      return;
    }
    if (typeof msg.port !== "number") throw new BootstrapError("the agent sent no port");
    this.step = "forward tunnel";
    const fwd = await this.#ssh!.forward(msg.port);
    this.#tunnels.push(fwd);
    agent.duplex.write(codec.encodeFrame({ advertisedPort: fwd.localPort }));
    this.step = "registration";
    const reg = await frames.next();
    if (reg.done || !(reg.value as { registered?: boolean }).registered) {
      throw this.#bootstrapError(null);
    }
    this.#forwardStdout(agent.duplex);
    this.step = "handshake";
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

  async #install(ssh: SshBackend, hash: string, code: Uint8Array): Promise<void> {
    const ch = await ssh.exec(installScript(hash));
    ch.stdout.resume(); // the channel closes only once its output is read
    this.#watchStderr(ch);
    ch.stdin.end(code);
    const { code: status } = await ch.exit;
    if (status === 0) return;
    if (status === EXIT_BAD_UPLOAD) {
      throw new BootstrapError(`the agent uploaded to ${this.#target.host} failed its hash check`);
    }
    throw this.#bootstrapError(status, "installing the agent");
  }

  #bootstrapError(code: number | null, doing = "starting the agent"): BootstrapError {
    const host = this.#target.host;
    const stderr = this.#stderrTail.join("\n");
    if (code === EXIT_NO_DENO) {
      const where = this.#target.deno ? ` (looked for ${this.#target.deno})` : "";
      return new BootstrapError(
        `Deno was not found on ${host}${where}; install it or set target.deno`,
        { stderr },
      );
    }
    const tail = stderr ? `:\n${stderr}` : "";
    return new BootstrapError(
      `${doing} on ${host} failed (exit status ${code ?? "none"})${tail}`,
      { stderr },
    );
  }

  #lost(): void {
    if (this.#teardown) return;
    this.#log(`lost the connection to ${this.#name}`);
    this.#onLost(this);
    void this.teardown();
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
        const exited = await Promise.race([
          agent.exit.then(() => true),
          delay(5000).then(() => false),
        ]);
        if (!exited) agent.close();
      }
      await Promise.allSettled(this.#tunnels.map((t) => t.close()));
      await this.#ssh?.close();
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

/** Options for {@linkcode connect}: the manager's. */
export type ConnectOptions = NodeManagerOptions;

/** Connects to a server and resolves with its node: `new NodeManager(target, options).connect()`. */
export function connect(
  target: Target | string,
  options: ConnectOptions = {},
): Promise<RemoteNode> {
  return new NodeManager(target, options).connect();
}
