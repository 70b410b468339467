import { ActorSystem } from "./actor/actor_system.ts";
import type { ActorFn, Destination, ExitReason, Inbox } from "./actor/types.ts";
import { loadCookie } from "./cookie.ts";
import { type Connection, openConnection } from "./dist/connection.ts";
import {
  type ControlMessage,
  decodeControl,
  destinationNode,
  encodeControl,
  OP,
  sourceNode,
} from "./dist/control.ts";
import type { Credentials } from "./dist/credentials.ts";
import { FailureDelay } from "./dist/failure_delay.ts";
import { HandshakeRefusedError } from "./dist/handshake.ts";
import { tcpConnect, tcpListen, type TcpListener } from "./dist/tcp.ts";
import type { Transport } from "./dist/transport.ts";
import {
  AuthenticationError,
  ConnectError,
  NodeDownError,
  NoProcError,
  ProtocolError,
  RemoteError,
  TimeoutError,
} from "./errors.ts";
import { type Limits, resolveLimits } from "./limits.ts";
import { keepRegistered, lookup, type Registration, resolveRegistryPort } from "./registry/mod.ts";
import { Codec } from "./wire/codec.ts";
import { Pid } from "./wire/pid.ts";

/**
 * Options for {@linkcode Node.start}.
 *
 * @example
 * ```ts
 * await using node = await Node.start({
 *   name: "app", // "app@localhost"
 *   cookie: "s3cret", // nodes connect only when their cookies match
 *   registryPort: 0, // a registry of its own, on a free port
 *   limits: { maxMailbox: 10_000 },
 * });
 * ```
 */
export interface NodeOptions {
  /** "app" becomes "app@localhost"; default a random name. */
  name?: string;
  /** The cluster cookie; else `FUSION_COOKIE`, else `~/.fusion/cookie`. */
  cookie?: string | Uint8Array;
  /** The registry's port on 127.0.0.1; else `FUSION_REGISTRY_PORT`, else 4370. */
  registryPort?: number;
  /** Silence after which a peer is declared down; default 60 000 ms. */
  tickTimeoutMs?: number;
  /** Receive-side limits. */
  limits?: Partial<Limits>;
  /** @internal A ticket instead of the cookie (remote agents). */
  ticket?: Uint8Array;
  /** @internal The only node this one talks to; everything else is relayed through it. */
  hub?: string;
  /** @internal Whether to register with the registry (default true). */
  register?: boolean;
  /** @internal Maps the listener's port to the one to register (an agent's forward tunnel). */
  advertise?: (port: number) => Promise<number>;
  /** @internal Whether to listen for connections (default true). */
  listen?: boolean;
  /** @internal Where the hub listens, as seen from this node (an agent's reverse tunnel). */
  hubPort?: number;
}

/**
 * Options for {@linkcode Node.request}.
 *
 * @example
 * ```ts
 * await using a = await Node.start({ registryPort: 0 });
 * await using b = await Node.start({ registryPort: a.registryPort });
 * a.serve("sum", (payload) => (payload as number[]).reduce((x, y) => x + y, 0));
 * await b.request(a.name, "sum", [1, 2, 3], { timeoutMs: 5000 }); // 6
 * ```
 */
export interface RequestOptions {
  /** Rejects with `TimeoutError` after this long; a late reply is dropped. Default 30 000 ms. */
  timeoutMs?: number;
}

/**
 * What a service handler learns about a request.
 *
 * @example
 * ```ts
 * await using node = await Node.start({ registryPort: 0 });
 * const whoami = (_: unknown, ctx: ServiceContext) => `${ctx.from.node} (${ctx.credential})`;
 * node.serve("whoami", whoami);
 * await node.request(node.name, "whoami", null); // "<this node's name> (local)"
 * ```
 */
export interface ServiceContext {
  /** The calling process. */
  from: Pid;
  /** How the caller's node proved itself: "cookie", "ticket", or "local" for this node. */
  credential: "cookie" | "ticket" | "local";
}

/**
 * A request handler registered with {@linkcode Node.serve}.
 *
 * @example
 * ```ts
 * const echo: Service = (payload, ctx) => ({ payload, from: String(ctx.from) });
 * await using node = await Node.start({ registryPort: 0 });
 * node.serve("echo", echo);
 * await node.request(node.name, "echo", "hi"); // { payload: "hi", from: "#Pid<…>" }
 * ```
 */
export type Service = (payload: unknown, ctx: ServiceContext) => unknown;

/**
 * Options for {@linkcode Node.serve}.
 *
 * @example
 * ```ts
 * await using node = await Node.start({ registryPort: 0 });
 * const options: ServeOptions = { allowTickets: true }; // remote agents may call it too
 * node.serve("report", (payload) => console.log(payload), options);
 * ```
 */
export interface ServeOptions {
  /** Whether nodes holding only a ticket (remote agents) may call it; default false. */
  allowTickets?: boolean;
}

/**
 * Called when a connection to `node` comes up.
 *
 * @example
 * ```ts
 * await using a = await Node.start({ registryPort: 0 });
 * await using b = await Node.start({ registryPort: a.registryPort });
 * const up: NodeUpListener = (peer) => console.log(`${peer} is up`);
 * const stop = b.onNodeUp(up);
 * await b.connect(a.name); // logs "<a's name> is up"
 * stop();
 * ```
 */
export type NodeUpListener = (node: string) => void;
/**
 * Called when the connection to `node` goes down, with why.
 *
 * @example
 * ```ts
 * await using a = await Node.start({ registryPort: 0 });
 * await using b = await Node.start({ registryPort: a.registryPort });
 * const down: NodeDownListener = (peer, reason) => console.log(`${peer} is down`, reason?.message);
 * b.onNodeDown(down);
 * await b.connect(a.name);
 * b.disconnectNode(a.name); // logs "<a's name> is down"
 * ```
 */
export type NodeDownListener = (node: string, reason: Error | undefined) => void;

/**
 * Full node name from a short one: "app" → "app@localhost".
 *
 * @example
 * ```ts
 * fullNodeName("app"); // "app@localhost"
 * fullNodeName("app@web-01"); // "app@web-01"
 * ```
 */
export function fullNodeName(name: string): string {
  const full = name.includes("@") ? name : `${name}@localhost`;
  if (!/^[A-Za-z0-9_.\-]{1,200}@[A-Za-z0-9_.\-]{1,54}$/.test(full)) {
    throw new TypeError(`invalid node name "${name}": use letters, digits, "_", "." and "-"`);
  }
  return full;
}

/**
 * A Fusion node: a name, credentials, a dist listener, a registration with
 * the registry, its connections and its local actors.
 *
 * @example
 * ```ts
 * await using node = await Node.start({ name: "app", registryPort: 0 });
 * using inbox = node.inbox();
 * node.spawn(async (ctx, to) => ctx.send(to, `hello from ${ctx.node}`), inbox.self);
 * await inbox.receive({ timeoutMs: 1000 }); // "hello from app@localhost"
 * ```
 */
export class Node {
  /** The full node name, e.g. "app@localhost". */
  readonly name: string;
  /** This incarnation's number; pids of an earlier run of the same name differ in it. */
  readonly creation: number;
  /** @internal */
  readonly actors: ActorSystem;
  /** @internal */
  readonly credentials: Credentials;
  /** @internal */
  readonly limits: Limits;
  readonly #registryPort: number;

  readonly #hub: string | undefined;
  readonly #upListeners = new Set<NodeUpListener>();
  readonly #downListeners = new Set<NodeDownListener>();
  readonly #hubPort: number | undefined;
  readonly #conns = new Map<string, Connection>();
  readonly #dialing = new Map<string, Promise<Connection>>();
  readonly #outq = new Map<string, Uint8Array[]>();
  readonly #codec: Codec;
  readonly #connWaiters = new Map<string, Set<(c: Connection) => void>>();
  readonly #services = new Map<string, { fn: Service; allowTickets: boolean }>();
  readonly #pending = new Map<string, PendingRequest>();
  readonly #handshaking = new Set<Transport>();
  // Failed proofs from any peer slow down the refusals of the next ones.
  readonly #authFailures = new FailureDelay();
  #requester: Pid | undefined;
  #listener: TcpListener | undefined;
  #registration: Registration | undefined;
  #closed = false;

  private constructor(name: string, credentials: Credentials, options: NodeOptions) {
    this.name = name;
    this.credentials = credentials;
    this.creation = (crypto.getRandomValues(new Uint32Array(1))[0]! || 1) >>> 0;
    this.limits = resolveLimits({
      ...options.limits,
      ...(options.tickTimeoutMs !== undefined ? { tickTimeoutMs: options.tickTimeoutMs } : {}),
    });
    this.#registryPort = resolveRegistryPort(options.registryPort);
    this.#hub = options.hub;
    this.#hubPort = options.hubPort;
    this.#codec = new Codec({ limits: this.limits });
    this.actors = new ActorSystem({
      node: name,
      creation: this.creation,
      maxMailbox: this.limits.maxMailbox,
      router: {
        send: (to, msg) => this.#route(to.node, { op: OP.SEND, to, msg }),
        sendNamed: (name, node, msg) => this.#route(node, { op: OP.SEND_NAMED, name, node, msg }),
        link: (from, to) => this.#route(to.node, { op: OP.LINK, from, to }),
        unlink: (from, to) => this.#route(to.node, { op: OP.UNLINK, from, to }),
        exit: (from, to, reason, kind) =>
          this.#route(to.node, { op: kind === "link" ? OP.EXIT : OP.EXIT2, from, to, reason }),
        monitor: (from, to, ref) =>
          this.#route(to instanceof Pid ? to.node : to[1], { op: OP.MONITOR, from, to, ref }),
        demonitor: (from, to, ref) =>
          this.#route(to instanceof Pid ? to.node : to[1], { op: OP.DEMONITOR, from, to, ref }),
        down: (from, to, ref, reason) =>
          this.#route(to.node, { op: OP.DOWN, from, to, ref, reason }),
      },
    });
  }

  /** Starts a node: its listener on 127.0.0.1, and its registration (starting a registry if none runs). */
  static async start(options: NodeOptions = {}): Promise<Node> {
    const name = fullNodeName(options.name ?? `node-${randomHex(6)}`);
    const credentials: Credentials = options.ticket
      ? { kind: "ticket", name, ticket: options.ticket }
      : { kind: "cookie", cookie: loadCookie({ cookie: options.cookie }) };
    const node = new Node(name, credentials, options);
    try {
      if (options.listen !== false) node.#listener = await tcpListen((t) => node.accept(t));
      if (options.register !== false && node.#listener) {
        const port = options.advertise
          ? await options.advertise(node.#listener.port)
          : node.#listener.port;
        node.#registration = await keepRegistered({
          name,
          port,
          credentials,
          registryPort: node.#registryPort,
        });
      }
    } catch (e) {
      await node.close();
      throw e;
    }
    return node;
  }

  /** The registry's port (the kernel's choice when 0 was asked for). */
  get registryPort(): number {
    return this.#registration?.registryPort ?? this.#registryPort;
  }

  /** The port of this node's dist listener on 127.0.0.1. */
  get port(): number {
    return this.#listener?.port ?? 0;
  }

  /** Names of the nodes this node is connected to. */
  nodes(): string[] {
    return [...this.#conns.keys()];
  }

  /** Starts an actor running `fn(ctx, ...args)`. */
  spawn<A extends unknown[]>(fn: ActorFn<A>, ...args: A): Pid {
    // A closed node could not report the actor's exit to anyone.
    if (this.#closed) throw new NodeDownError(this.name, `${this.name} is closed`);
    return this.actors.spawn(fn, args);
  }

  /** Sends a message; see {@linkcode Destination}. Never throws for another node. */
  send(to: Destination, msg: unknown): void {
    this.actors.send(to, msg);
  }

  /** Registers `pid` under `name`; a taken name throws `NameTakenError`. */
  register(name: string, pid: Pid): void {
    this.actors.register(name, pid);
  }

  /** Removes a registered name. */
  unregister(name: string): boolean {
    return this.actors.unregister(name);
  }

  /** The pid registered under `name`. */
  whereis(name: string): Pid | undefined {
    return this.actors.whereis(name);
  }

  /** A mailbox with a pid, driven from outside any actor. */
  inbox(): Inbox {
    return this.actors.inbox();
  }

  /** Sends an exit signal to `pid` ("kill" cannot be trapped). */
  exit(pid: Pid, reason: ExitReason): void {
    this.actors.exit(undefined, pid, reason);
  }

  /** Calls `listener` whenever a connection comes up; returns a function that stops it. */
  onNodeUp(listener: NodeUpListener): () => void {
    this.#upListeners.add(listener);
    return () => this.#upListeners.delete(listener);
  }

  /** Calls `listener` whenever a connection goes down; returns a function that stops it. */
  onNodeDown(listener: NodeDownListener): () => void {
    this.#downListeners.add(listener);
    return () => this.#downListeners.delete(listener);
  }

  /** Connects to `node` unless connected already. */
  async connect(node: string): Promise<void> {
    await this.#connection(fullNodeName(node));
  }

  /** Drops the connection to `node`, if any. */
  disconnectNode(node: string): void {
    this.#conns.get(node)?.close();
  }

  // ---- requests -----------------------------------------------------------

  /** Offers a service that other nodes call with {@linkcode Node.request}. */
  serve(kind: string, fn: Service, options: ServeOptions = {}): void {
    this.#services.set(kind, { fn, allowTickets: options.allowTickets ?? false });
  }

  /**
   * Calls service `kind` on `node` and resolves with its result. Rejects with
   * `RemoteError` when the handler threw, `NodeDownError` when the node went
   * away first, `TimeoutError` after `timeoutMs`.
   */
  request(
    node: string,
    kind: string,
    payload: unknown,
    options: RequestOptions = {},
  ): Promise<unknown> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const ref = this.actors.makeRef();
    const from = this.#requester ??= this.actors.inbox().self;
    if (node === this.name) {
      return this.#runService(kind, payload, { from, credential: "local" });
    }
    return new Promise((resolve, reject) => {
      const key = String(ref);
      const timer = setTimeout(() => {
        this.#pending.delete(key);
        reject(new TimeoutError(`request "${kind}" to ${node} took over ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(key, { node, resolve, reject, timer });
      try {
        this.#route(node, { op: OP.REQUEST, from, node, ref, kind, payload });
      } catch (e) {
        clearTimeout(timer);
        this.#pending.delete(key);
        reject(e);
      }
    });
  }

  async #runService(kind: string, payload: unknown, ctx: ServiceContext): Promise<unknown> {
    const service = this.#services.get(kind);
    if (!service) throw new NoProcError(`${this.name} offers no service "${kind}"`);
    if (ctx.credential === "ticket" && !service.allowTickets) {
      throw new AuthenticationError(
        `${this.name} refuses "${kind}" from ${ctx.from.node}: agents may not ask for it`,
      );
    }
    return await service.fn(payload, ctx);
  }

  #onRequest(conn: Connection, c: Extract<ControlMessage, { op: typeof OP.REQUEST }>): void {
    const reply = (ok: boolean, value: unknown) => {
      try {
        this.#route(c.from.node, { op: OP.REPLY, node: c.from.node, ref: c.ref, ok, value });
      } catch (e) {
        this.#route(c.from.node, {
          op: OP.REPLY,
          node: c.from.node,
          ref: c.ref,
          ok: false,
          value: e,
        });
      }
    };
    this.#runService(c.kind, c.payload, { from: c.from, credential: conn.peerCredential })
      .then((v) => reply(true, v), (e) => reply(false, e));
  }

  #onReply(c: Extract<ControlMessage, { op: typeof OP.REPLY }>): void {
    const key = String(c.ref);
    const p = this.#pending.get(key);
    if (!p) return; // timed out: dropped
    this.#pending.delete(key);
    clearTimeout(p.timer);
    if (c.ok) p.resolve(c.value);
    else {p.reject(
        c.value instanceof Error
          ? c.value
          : new RemoteError({ name: "Error", message: describeValue(c.value) }, { node: p.node }),
      );}
  }

  #failPending(node: string, reason: Error | undefined): void {
    for (const [key, p] of this.#pending) {
      if (p.node !== node && this.#hub === undefined) continue;
      this.#pending.delete(key);
      clearTimeout(p.timer);
      p.reject(new NodeDownError(node, `${node} went down before it answered`, { cause: reason }));
    }
  }

  // ---- connections ------------------------------------------------------

  /** @internal Accepts an incoming transport (a dist listener or an agent's stdio). */
  accept(transport: Transport): void {
    if (this.#closed) return transport.close();
    this.#handshaking.add(transport);
    openConnection(transport, {
      role: "acceptor",
      self: this.name,
      creation: this.creation,
      credentials: this.credentials,
      limits: this.limits,
      admit: (peer) => this.#admit(peer),
      authFailureDelay: () => this.#authFailures.next(),
      handlers: this.#handlers,
    }).catch(() => {/* a failed handshake only costs that transport */})
      .finally(() => this.#handshaking.delete(transport));
  }

  /** @internal Dials over a ready transport (an SSH-forwarded port, an agent's stdio). */
  async dial(transport: Transport, peer: string): Promise<void> {
    await this.#open(transport, peer);
  }

  async #open(transport: Transport, peer: string): Promise<Connection> {
    if (this.#closed) {
      transport.close();
      throw new NodeDownError(peer, `${this.name} is closed`);
    }
    this.#handshaking.add(transport);
    try {
      return await openConnection(transport, this.#dialOptions(peer));
    } finally {
      this.#handshaking.delete(transport);
    }
  }

  #admit(peer: string): string | undefined {
    if (this.#closed) return "closing";
    if (this.#hub !== undefined && peer !== this.#hub) return "hub-only";
    if (this.#dialing.has(peer) && this.name > peer) return "pending";
    return undefined;
  }

  #dialOptions(peer: string) {
    return {
      role: "initiator" as const,
      self: this.name,
      creation: this.creation,
      credentials: this.credentials,
      limits: this.limits,
      peer,
      handlers: this.#handlers,
    };
  }

  readonly #handlers = {
    up: (conn: Connection) => {
      const old = this.#conns.get(conn.peer);
      if (old && old !== conn) old.close(new ConnectError(`${conn.peer} reconnected`));
      this.#conns.set(conn.peer, conn);
      this.#flushQueue(conn);
      const waiters = this.#connWaiters.get(conn.peer);
      this.#connWaiters.delete(conn.peer);
      for (const w of waiters ?? []) w(conn);
      for (const l of this.#upListeners) l(conn.peer);
    },
    message: (conn: Connection, raw: unknown) => this.#onMessage(conn, raw),
    down: (conn: Connection, reason: Error | undefined) => {
      if (this.#conns.get(conn.peer) !== conn) return;
      this.#conns.delete(conn.peer);
      this.actors.nodeDown(conn.peer);
      this.#failPending(conn.peer, reason);
      for (const l of this.#downListeners) l(conn.peer, reason);
    },
  };

  #connection(node: string): Promise<Connection> {
    const conn = this.#conns.get(node);
    if (conn) return Promise.resolve(conn);
    let dialing = this.#dialing.get(node);
    if (!dialing) {
      dialing = this.#dialByName(node).finally(() => this.#dialing.delete(node));
      this.#dialing.set(node, dialing);
    }
    return dialing;
  }

  async #dialByName(node: string): Promise<Connection> {
    if (this.#closed) throw new NodeDownError(node, `${this.name} is closed`);
    if (this.#hub !== undefined && (node !== this.#hub || this.#hubPort === undefined)) {
      throw new NodeDownError(node, `${this.name} talks only to its hub ${this.#hub}`);
    }
    const port = this.#hubPort ?? await lookup(node, {
      port: this.registryPort,
      credentials: this.credentials,
    });
    if (port === undefined) throw new NodeDownError(node, `${node} is not registered`);
    const transport = await tcpConnect(port);
    try {
      return await this.#open(transport, node);
    } catch (e) {
      if (e instanceof HandshakeRefusedError && e.reason === "pending") {
        // Both dialled at once; the peer's connection to us wins.
        return await this.#awaitConnection(node);
      }
      throw e;
    }
  }

  #awaitConnection(node: string): Promise<Connection> {
    const existing = this.#conns.get(node);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const set = this.#connWaiters.get(node) ?? new Set();
      this.#connWaiters.set(node, set);
      const timer = setTimeout(() => {
        set.delete(done);
        reject(new NodeDownError(node, `${node} did not complete its connection`));
      }, this.limits.handshakeTimeoutMs);
      const done = (c: Connection) => {
        clearTimeout(timer);
        resolve(c);
      };
      set.add(done);
    });
  }

  // ---- routing ------------------------------------------------------------

  #route(node: string, ctrl: ControlMessage): void {
    if (this.#closed) return;
    // Encoding here makes a value that cannot be sent throw at the sender.
    const frame = this.#codec.encodeFrame(encodeControl(ctrl));
    node = this.#hub ?? node;
    const conn = this.#conns.get(node);
    if (conn) return conn.sendFrame(frame);
    const q = this.#outq.get(node);
    if (q) return void q.push(frame);
    this.#outq.set(node, [frame]);
    this.#connection(node).catch((e) => {
      this.#outq.delete(node);
      this.actors.nodeDown(node);
      this.#failPending(node, e);
    });
  }

  #flushQueue(conn: Connection): void {
    const q = this.#outq.get(conn.peer);
    if (!q) return;
    this.#outq.delete(conn.peer);
    for (const frame of q) conn.sendFrame(frame);
  }

  #onMessage(conn: Connection, raw: unknown): void {
    let ctrl: ControlMessage;
    try {
      ctrl = decodeControl(raw);
    } catch (e) {
      return conn.close(e as Error);
    }
    const src = sourceNode(ctrl);
    if (src !== undefined && src !== conn.peer && conn.peerCredential === "ticket") {
      return conn.close(new ProtocolError(`${conn.peer} sent a signal claiming to be from ${src}`));
    }
    const dest = destinationNode(ctrl);
    if (dest !== this.name) {
      // A hub relays for the agents that can only talk to it, but never their requests.
      if (ctrl.op === OP.REQUEST && conn.peerCredential === "ticket") {
        return this.#route(ctrl.from.node, {
          op: OP.REPLY,
          node: ctrl.from.node,
          ref: ctrl.ref,
          ok: false,
          value: new AuthenticationError(`${this.name} does not relay requests from agents`),
        });
      }
      if (this.credentials.kind === "cookie" && this.#hub === undefined) {
        const target = this.#conns.get(dest);
        if (target && target !== conn) target.send(raw as unknown[]);
      }
      return;
    }
    if (ctrl.op === OP.REQUEST) return this.#onRequest(conn, ctrl);
    if (ctrl.op === OP.REPLY) return this.#onReply(ctrl);
    this.#dispatch(ctrl);
  }

  #dispatch(c: Exclude<ControlMessage, { op: typeof OP.REQUEST | typeof OP.REPLY }>): void {
    const a = this.actors;
    switch (c.op) {
      case OP.SEND:
        return a.deliver(c.to, c.msg);
      case OP.SEND_NAMED:
        return a.deliverNamed(c.name, c.msg);
      case OP.LINK:
        return a.remoteLink(c.from, c.to);
      case OP.UNLINK:
        return a.remoteUnlink(c.from, c.to);
      case OP.EXIT:
        return a.exitSignal(c.from, c.to, c.reason, "link");
      case OP.EXIT2:
        return a.exitSignal(c.from, c.to, c.reason, "exit");
      case OP.MONITOR:
        return a.remoteMonitor(c.from, c.to, c.ref);
      case OP.DEMONITOR:
        return a.remoteDemonitor(c.from, c.to, c.ref);
      case OP.DOWN:
        return a.remoteDown(c.from, c.to, c.ref, c.reason);
    }
  }

  /** Stops every actor, closes every connection and the registration. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.actors.shutdown("killed");
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new NodeDownError(p.node, `${this.name} closed`));
    }
    this.#pending.clear();
    for (const conn of [...this.#conns.values()]) conn.close();
    for (const t of this.#handshaking) t.close();
    await this.#registration?.close();
    await this.#listener?.close();
  }

  /** Same as `close`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

interface PendingRequest {
  node: string;
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

// A peer's value as text; String() could throw on an object with its own toString.
function describeValue(v: unknown): string {
  if (typeof v !== "object" || v === null) return String(v);
  return `${Array.isArray(v) ? "an array" : "an object"} in place of an error`;
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}
