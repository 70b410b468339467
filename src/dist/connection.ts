import { AuthenticationError, ProtocolError, TimeoutError } from "../errors.ts";
import { type Limits, resolveLimits } from "../limits.ts";
import { Codec, FrameReader, TICK_FRAME } from "../wire/mod.ts";
import type { Credentials } from "./credentials.ts";
import { Handshake, type HandshakeResult, type HandshakeRole } from "./handshake.ts";
import type { Transport } from "./transport.ts";

/** What a connection reports to its node once the handshake is done. */
export interface ConnectionHandlers {
  /** The handshake completed; runs before any frame is handed to `message`. */
  up(conn: Connection): void;
  /** A decoded frame arrived (never a handshake frame, never before the handshake). */
  message(conn: Connection, msg: unknown): void;
  /** The connection is gone; `reason` says why. Called once. */
  down(conn: Connection, reason: Error | undefined): void;
}

/** Options for {@linkcode openConnection}. */
export interface ConnectionOptions {
  /** Which side of the handshake this is. */
  role: HandshakeRole;
  /** This node's full name. */
  self: string;
  /** This node's incarnation. */
  creation: number;
  /** The cookie or a ticket. */
  credentials: Credentials;
  /** Initiator: the node it means to reach. */
  peer?: string;
  /** Acceptor: turn a named initiator away with a refusal code. */
  admit?: (peer: string) => string | undefined;
  /**
   * Acceptor: called when an initiator fails to authenticate; the refusal (and the close)
   * is held back this many ms, to slow down guessing.
   */
  authFailureDelay?: () => number;
  /** Receive-side limits (frame size, depth, handshake time, tick timeout). */
  limits?: Partial<Limits>;
  /** Where decoded frames and the end of the connection go. */
  handlers: ConnectionHandlers;
}

// Silence checks per tick timeout.
const BEATS = 8;
/** Frames queued in one turn are joined into writes of up to this many bytes (as tcp.ts). */
const JOIN_BYTES = 256 * 1024;

function join(frames: Uint8Array[], from: number, to: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let off = 0;
  for (let i = from; i < to; i++) {
    out.set(frames[i]!, off);
    off += frames[i]!.length;
  }
  return out;
}

/**
 * A node-to-node connection over any transport: handshake first, then ticks and
 * batched frames. It knows nothing of SSH or of actors.
 */
export class Connection {
  /** The peer's full name. */
  readonly peer: string;
  /** The peer's incarnation. */
  readonly peerCreation: number;
  /** How the peer proved itself: "cookie" or only a "ticket". */
  readonly peerCredential: "cookie" | "ticket";
  /** The negotiated protocol version. */
  readonly version: number;
  /** The carrier underneath. */
  readonly transport: Transport;

  readonly #codec: Codec;
  readonly #limits: Limits;
  readonly #handlers: ConnectionHandlers;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #flushScheduled = false;
  #wrote = false;
  #reads = 0;
  #lastReads = -1;
  #silentBeats = 0;
  #beat = 0;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** @internal Use {@linkcode openConnection}. */
  constructor(
    transport: Transport,
    codec: Codec,
    limits: Limits,
    result: HandshakeResult,
    handlers: ConnectionHandlers,
  ) {
    this.transport = transport;
    this.#codec = codec;
    this.#limits = limits;
    this.#handlers = handlers;
    this.peer = result.peer;
    this.peerCreation = result.peerCreation;
    this.peerCredential = result.peerCredential;
    this.version = result.version;
  }

  /** True until the connection has gone down. */
  get alive(): boolean {
    return !this.#closed;
  }

  /** Encodes and queues one value; frames queued in one turn go out in one write. */
  send(value: unknown): void {
    if (this.#closed) return;
    this.sendFrame(this.#codec.encodeFrame(value));
  }

  /** Queues an already encoded frame (length prefix included). */
  sendFrame(frame: Uint8Array): void {
    if (this.#closed) return;
    this.#queue.push(frame);
    this.#queued += frame.length;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#closed || this.#queue.length === 0) return;
    const frames = this.#queue;
    const size = this.#queued;
    this.#queue = [];
    this.#queued = 0;
    this.#wrote = true;
    if (frames.length === 1) this.transport.write(frames[0]!);
    else if (size <= JOIN_BYTES) this.transport.write(join(frames, 0, frames.length, size));
    else {
      // Runs of small frames go out joined; a large frame as it is, never copied again.
      const write = (from: number, to: number, run: number) => {
        if (to > from) {
          this.transport.write(to - from === 1 ? frames[from]! : join(frames, from, to, run));
        }
      };
      let from = 0;
      let run = 0;
      for (let i = 0; i < frames.length; i++) {
        const f = frames[i]!;
        if (f.length >= JOIN_BYTES) {
          write(from, i, run);
          this.transport.write(f);
          from = i + 1;
          run = 0;
          continue;
        }
        if (run + f.length > JOIN_BYTES) {
          write(from, i, run);
          from = i;
          run = 0;
        }
        run += f.length;
      }
      write(from, frames.length, run);
    }
    if (this.transport.buffered > this.#limits.maxWriteBuffer) {
      this.close(
        new ProtocolError(`${this.peer}: write buffer over ${this.#limits.maxWriteBuffer} bytes`),
      );
    }
  }

  /** @internal Called by the read loop for each chunk of bytes after the handshake. */
  onData(): void {
    // Any bytes count as life, so a peer busy sending one large frame is not silent.
    this.#reads++;
  }

  /** @internal Called by the read loop for each frame body after the handshake. */
  onFrame(body: Uint8Array, owned = false): void {
    if (this.#closed) return; // frames behind a fatal one in the same chunk
    this.#reads++;
    if (body.length === 0) return; // tick
    let msg: unknown;
    try {
      msg = this.#codec.decode(body, { owned });
    } catch (e) {
      this.close(e as Error);
      return;
    }
    this.#handlers.message(this, msg);
  }

  /**
   * @internal Starts ticking. Silence is checked every eighth of the tick timeout, so a
   * silent peer is declared down between 1 and 1.125 tick timeouts after its last bytes;
   * a tick goes out every quarter in which nothing else was written.
   */
  startTicks(): void {
    const beat = Math.max(1, Math.floor(this.#limits.tickTimeoutMs / BEATS));
    this.#ticker = setInterval(() => this.#tick(), beat);
    Deno.unrefTimer(this.#ticker as unknown as number);
  }

  #tick(): void {
    if (this.#reads === this.#lastReads) {
      if (++this.#silentBeats >= BEATS) {
        this.close(
          new TimeoutError(`${this.peer} was silent for ${this.#limits.tickTimeoutMs} ms`),
        );
        return;
      }
    } else {
      this.#silentBeats = 0;
      this.#lastReads = this.#reads;
    }
    if (++this.#beat % 2 !== 0) return;
    if (!this.#wrote && this.#queue.length === 0) this.transport.write(TICK_FRAME);
    this.#wrote = false;
  }

  /** Closes the connection; the `down` handler runs once with `reason`. */
  close(reason?: Error): void {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    clearInterval(this.#ticker);
    // A silent peer will not answer a graceful close either: do not wait for it.
    if (reason instanceof TimeoutError && this.transport.abort) this.transport.abort();
    else this.transport.close();
    this.#handlers.down(this, reason);
  }

  /** @internal The transport closed underneath. */
  onTransportClose(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#ticker);
    this.#handlers.down(this, error);
  }
}

/**
 * Runs the handshake over `transport` and resolves with the connection, or
 * rejects (and closes the transport) when it fails or takes too long.
 */
export function openConnection(
  transport: Transport,
  options: ConnectionOptions,
): Promise<Connection> {
  const limits = resolveLimits(options.limits);
  const codec = new Codec({ limits });
  const reader = new FrameReader({ maxFrameBytes: limits.maxFrameBytes });
  const handshake = new Handshake({
    role: options.role,
    self: options.self,
    creation: options.creation,
    credentials: options.credentials,
    ...(options.peer !== undefined ? { peer: options.peer } : {}),
    ...(options.admit ? { admit: options.admit } : {}),
  });
  return new Promise<Connection>((resolve, reject) => {
    let conn: Connection | undefined;
    let failed = false;
    // Set while a refusal is held back: nothing more from the peer is read.
    let held: ReturnType<typeof setTimeout> | undefined;
    const fail = (e: Error) => {
      if (failed || conn) return;
      failed = true;
      clearTimeout(timer);
      clearTimeout(held);
      transport.close();
      reject(e);
    };
    const timer = setTimeout(
      () =>
        fail(
          new TimeoutError(
            `handshake with ${
              options.peer ?? transport.label
            } took over ${limits.handshakeTimeoutMs} ms`,
          ),
        ),
      limits.handshakeTimeoutMs,
    );
    const write = (values: unknown[]) => {
      for (const v of values) transport.write(codec.encodeFrame(v));
    };
    const onBody = (body: Uint8Array, owned: boolean) => {
      if (conn) return conn.onFrame(body, owned);
      if (failed || held !== undefined) return;
      if (body.length === 0) return fail(new ProtocolError("handshake: tick before handshake"));
      let step;
      try {
        step = handshake.receive(codec.decode(body));
      } catch (e) {
        return fail(e as Error);
      }
      if (step.error) {
        const error = step.error;
        const delay = error instanceof AuthenticationError && options.role === "acceptor"
          ? options.authFailureDelay?.() ?? 0
          : 0;
        if (delay <= 0) {
          write(step.send);
          return fail(error);
        }
        held = setTimeout(() => {
          write(step.send);
          fail(error);
        }, delay);
        return;
      }
      write(step.send);
      if (step.done) {
        clearTimeout(timer);
        const c = new Connection(transport, codec, limits, step.done, options.handlers);
        conn = c;
        c.startTicks();
        try {
          options.handlers.up(c);
        } catch (e) {
          c.close(e as Error);
          reject(e);
          return;
        }
        resolve(c);
      }
    };
    // Until the handshake is done, frames are split here under the (small) handshake
    // limit, so that an unauthenticated peer cannot make this side buffer a large frame.
    let early: Uint8Array = new Uint8Array(0);
    const onEarlyData = (chunk: Uint8Array) => {
      if (held !== undefined) return; // a refused peer's further bytes are not kept
      const buf = early.length ? concat(early, chunk) : chunk;
      let off = 0;
      while (!conn && !failed && held === undefined && buf.length - off >= 4) {
        const len = new DataView(buf.buffer, buf.byteOffset + off, 4).getUint32(0);
        if (len > limits.maxHandshakeFrameBytes) {
          return fail(
            new ProtocolError(
              `handshake frame of ${len} bytes exceeds ${limits.maxHandshakeFrameBytes}`,
            ),
          );
        }
        if (buf.length - off - 4 < len) break;
        const body = buf.subarray(off + 4, off + 4 + len);
        off += 4 + len;
        onBody(body, false);
      }
      const rest = buf.subarray(off);
      early = new Uint8Array(0);
      if (failed) return;
      if (!conn) early = rest.slice();
      else if (rest.length > 0) reader.push(rest, onBody);
    };
    transport.start({
      data(chunk) {
        if (failed || (conn && !conn.alive)) return;
        try {
          if (conn) {
            conn.onData();
            reader.push(chunk, onBody);
          } else onEarlyData(chunk);
        } catch (e) {
          if (conn) conn.close(e as Error);
          else fail(e as Error);
        }
      },
      // The rest of a large frame is read straight into its buffer.
      spare: () => conn?.alive ? reader.spare() : undefined,
      close(error) {
        if (conn) conn.onTransportClose(error);
        else fail(error ?? new ProtocolError(`${transport.label} closed during the handshake`));
      },
    });
    const first = handshake.start();
    write(first.send);
    if (first.error) fail(first.error);
  });
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
