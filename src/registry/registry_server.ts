import { cookieKey, type Credentials, macEqual, proofKey } from "../dist/credentials.ts";
import { FailureDelay } from "../dist/failure_delay.ts";
import { AuthenticationError, ConnectError } from "../errors.ts";
import { type Limits, resolveLimits } from "../limits.ts";
import { FrameSocket } from "./_frame_socket.ts";
import { isPort, type RegistryErrorCode } from "./_protocol.ts";
import { isValidNodeName } from "./node_name.ts";
import { queryProof, registrationProof } from "./registration_proof.ts";
import { resolveRegistryPort } from "./registry_port.ts";

/** One registered node. */
export interface RegistryEntry {
  /** Its full name, e.g. "app@localhost". */
  name: string;
  /** The port it advertised (its dist listener, as seen from this host). */
  port: number;
}

/** Options for {@linkcode RegistryServer.listen}. */
export interface RegistryServerOptions {
  /** Must be the cookie: the registry checks proofs for every name. */
  credentials: Credentials;
  /** Port on 127.0.0.1; 0 lets the kernel choose. Default `FUSION_REGISTRY_PORT`, else 4370. */
  port?: number;
  /**
   * Receive-side limits: `maxRegistryFrameBytes` bounds request frames,
   * `handshakeTimeoutMs` bounds the time from accept to a query's answer or a registration.
   */
  limits?: Partial<Limits>;
  /**
   * Delay before refusing the first failed proof (registration or query); it doubles with each
   * recent failure. Default 50 ms.
   */
  failureDelayMs?: number;
  /** Cap of that delay. Default 2000 ms. */
  maxFailureDelayMs?: number;
}

const NONCE_BYTES = 32;

type ConnState = "new" | "challenged" | "registered" | "closing";

interface Conn {
  state: ConnState;
  fs: FrameSocket;
  /** The request being proven. */
  verb: "register" | "lookup" | "names";
  /** The name registered or looked up ("" for names). */
  name: string;
  port: number;
  nonce: Uint8Array;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * The port mapper (epmd's role): maps node names to ports on 127.0.0.1. A
 * registration, proven with the cookie or the name's ticket, lives as long as
 * its TCP connection. Every request is proven over a fresh nonce: a lookup with
 * the cookie or any valid ticket, a listing with the cookie only. Wrong proofs
 * are refused ever more slowly, counted across all clients.
 */
export class RegistryServer implements AsyncDisposable {
  /** The port it listens on, 127.0.0.1 only. */
  readonly port: number;
  readonly #listener: Deno.TcpListener;
  readonly #accepting: Promise<void>;
  readonly #cookieCreds: Credentials;
  readonly #limits: Limits;
  readonly #frameLimits: Limits;
  readonly #failureDelay: FailureDelay;
  readonly #conns = new Set<Conn>();
  readonly #names = new Map<string, Conn>();
  #closing: Promise<void> | undefined;

  private constructor(listener: Deno.TcpListener, options: RegistryServerOptions) {
    this.#listener = listener;
    this.port = (listener.addr as Deno.NetAddr).port;
    this.#cookieCreds = options.credentials;
    this.#limits = resolveLimits(options.limits);
    this.#frameLimits = { ...this.#limits, maxFrameBytes: this.#limits.maxRegistryFrameBytes };
    this.#failureDelay = new FailureDelay({
      baseMs: options.failureDelayMs ?? 50,
      maxMs: options.maxFailureDelayMs ?? 2000,
    });
    this.#accepting = this.#acceptLoop();
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        // Closed; or a failed accept (e.g. out of descriptors), which costs that client only.
        if (this.#closing || e instanceof Deno.errors.BadResource) return;
        continue;
      }
      this.#accept(conn);
    }
  }

  /**
   * Starts a registry on 127.0.0.1. Throws `AuthenticationError` for ticket
   * credentials, and `ConnectError` when the port cannot be bound (its `cause`
   * has `code: "EADDRINUSE"` when another registry holds it).
   */
  static listen(options: RegistryServerOptions): Promise<RegistryServer> {
    if (options.credentials.kind !== "cookie") {
      return Promise.reject(
        new AuthenticationError(
          "only a cookie holder can host the registry; a ticket proves one name",
        ),
      );
    }
    const port = resolveRegistryPort(options.port);
    let listener: Deno.TcpListener;
    try {
      listener = Deno.listen({ hostname: "127.0.0.1", port, transport: "tcp" });
    } catch (e) {
      // Deno's AddrInUse carries code "EADDRINUSE", which keepRegistered looks for.
      return Promise.reject(
        new ConnectError(`cannot listen on 127.0.0.1:${port}: ${(e as Error).message}`, {
          cause: e,
        }),
      );
    }
    return Promise.resolve(new RegistryServer(listener, options));
  }

  /** The port registered for `name`, if any. */
  lookup(name: string): number | undefined {
    return this.#names.get(name)?.port;
  }

  /** Every live registration, sorted by name. */
  entries(): RegistryEntry[] {
    return [...this.#names.values()]
      .map((c) => ({ name: c.name, port: c.port }))
      .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  }

  /** Stops listening and drops every connection, which ends every registration. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        this.#listener.close();
      } catch { /* already closed */ }
      const stopped = this.#accepting;
      const conns = [...this.#conns];
      for (const c of conns) {
        this.#clearTimer(c);
        c.state = "closing";
        c.fs.destroy();
      }
      await Promise.all([stopped, ...conns.map((c) => c.fs.closed)]);
      this.#names.clear();
    })();
    return this.#closing;
  }

  /** Same as `close`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #accept(socket: Deno.TcpConn): void {
    if (this.#closing) {
      try {
        socket.close();
      } catch { /* already closed */ }
      return;
    }
    const conn: Conn = {
      state: "new",
      fs: undefined as unknown as FrameSocket,
      verb: "register",
      name: "",
      port: 0,
      nonce: new Uint8Array(0),
      timer: undefined,
    };
    conn.fs = new FrameSocket(socket, this.#frameLimits, {
      message: (v) => this.#message(conn, v),
      broken: (e) => this.#refuse(conn, "bad_request", e.message),
      close: () => this.#closed(conn),
    });
    this.#conns.add(conn);
    const ms = this.#limits.handshakeTimeoutMs;
    conn.timer = setTimeout(
      () => this.#refuse(conn, "timeout", `no complete request within ${ms} ms`),
      ms,
    );
  }

  #message(conn: Conn, v: unknown): void {
    switch (conn.state) {
      case "new":
        return this.#request(conn, v);
      case "challenged":
        return this.#proof(conn, v);
      case "registered":
        return this.#refuse(conn, "bad_request", "nothing may follow a registration");
      case "closing":
        return;
    }
  }

  #request(conn: Conn, v: unknown): void {
    if (!Array.isArray(v) || typeof v[0] !== "string") {
      return this.#refuse(conn, "bad_request", "a request is an array starting with its verb");
    }
    switch (v[0]) {
      case "lookup":
        if (v.length !== 2) return this.#refuse(conn, "bad_request", 'expected ["lookup", name]');
        if (!isValidNodeName(v[1])) return this.#refuse(conn, "bad_name", "invalid node name");
        conn.verb = "lookup";
        conn.name = v[1];
        return this.#challenge(conn);
      case "names":
        if (v.length !== 1) return this.#refuse(conn, "bad_request", 'expected ["names"]');
        conn.verb = "names";
        return this.#challenge(conn);
      case "register":
        if (v.length !== 3) {
          return this.#refuse(conn, "bad_request", 'expected ["register", name, port]');
        }
        if (!isValidNodeName(v[1])) return this.#refuse(conn, "bad_name", "invalid node name");
        if (!isPort(v[2])) return this.#refuse(conn, "bad_port", "port must be 1-65535");
        conn.verb = "register";
        conn.name = v[1];
        conn.port = v[2];
        return this.#challenge(conn);
      default:
        return this.#refuse(conn, "bad_request", "unknown request");
    }
  }

  #challenge(conn: Conn): void {
    conn.nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    conn.state = "challenged";
    conn.fs.send(["challenge", conn.nonce]);
  }

  #proof(conn: Conn, v: unknown): void {
    if (conn.verb !== "register") {
      return this.#queryProof(conn, conn.verb, v);
    }
    if (!Array.isArray(v) || v.length !== 2 || v[0] !== "prove" || !(v[1] instanceof Uint8Array)) {
      return this.#refuse(conn, "bad_request", 'expected ["prove", mac]');
    }
    const key = proofKey(this.#cookieCreds, conn.name)!;
    const expected = registrationProof(key, conn);
    if (!macEqual(expected, v[1])) return this.#failure(conn, `wrong proof for ${conn.name}`);
    const holder = this.#names.get(conn.name);
    if (holder && holder !== conn) {
      return this.#refuse(conn, "name_taken", `${conn.name} is already registered`);
    }
    this.#clearTimer(conn);
    conn.state = "registered";
    this.#names.set(conn.name, conn);
    conn.fs.send(["ok"]);
  }

  // ["prove", mac, holder]: holder null for the cookie, else the name whose ticket keyed the MAC.
  #queryProof(conn: Conn, verb: "lookup" | "names", v: unknown): void {
    if (
      !Array.isArray(v) || v.length !== 3 || v[0] !== "prove" || !(v[1] instanceof Uint8Array) ||
      (v[2] !== null && typeof v[2] !== "string")
    ) {
      return this.#refuse(conn, "bad_request", 'expected ["prove", mac, holder]');
    }
    const holder: string | null = v[2];
    const what = verb === "names" ? "names" : `lookup of ${conn.name}`;
    const key = holder === null
      ? cookieKey(this.#cookieCreds)!
      : isValidNodeName(holder)
      ? proofKey(this.#cookieCreds, holder)!
      : undefined;
    const expected = key &&
      queryProof(key, { nonce: conn.nonce, verb, name: conn.name, holder });
    if (!expected || !macEqual(expected, v[1])) {
      return this.#failure(conn, `wrong proof for ${what}`);
    }
    if (verb === "lookup") return this.#answer(conn, ["ok", this.lookup(conn.name) ?? null]);
    if (holder !== null) {
      // A ticket reaches its hub by port; the list would show a server every other node's name.
      return this.#refuse(
        conn,
        "forbidden",
        "listing names needs the cookie; a ticket may only look up",
      );
    }
    this.#answer(conn, ["ok", this.entries().map((e) => [e.name, e.port])]);
  }

  // Slows guessing down for everyone: all tunnelled clients share 127.0.0.1.
  #failure(conn: Conn, message: string): void {
    const delay = this.#failureDelay.next();
    this.#clearTimer(conn);
    conn.state = "closing";
    conn.timer = setTimeout(() => {
      conn.timer = undefined;
      conn.fs.send(["error", "auth_failed", message]);
      conn.fs.end();
    }, delay);
  }

  #answer(conn: Conn, reply: unknown[]): void {
    this.#clearTimer(conn);
    if (this.#names.get(conn.name) === conn) this.#names.delete(conn.name);
    conn.state = "closing";
    conn.fs.send(reply);
    conn.fs.end();
  }

  #refuse(conn: Conn, code: RegistryErrorCode, message: string): void {
    if (conn.state === "closing") return;
    this.#answer(conn, ["error", code, message]);
  }

  #closed(conn: Conn): void {
    this.#clearTimer(conn);
    this.#conns.delete(conn);
    if (this.#names.get(conn.name) === conn) this.#names.delete(conn.name);
    conn.state = "closing";
  }

  #clearTimer(conn: Conn): void {
    if (conn.timer !== undefined) clearTimeout(conn.timer);
    conn.timer = undefined;
  }
}
