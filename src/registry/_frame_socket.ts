import { ProtocolError } from "../errors.ts";
import type { Limits } from "../limits.ts";
import { Codec, encodeFrame, FrameReader } from "../wire/mod.ts";

// Deno's own sockets, not node:net: an agent that registers never loads the Node
// compatibility layer's net module (tens of ms at every agent start).

/** What a {@linkcode FrameSocket} reports. Handlers must not throw. */
export interface FrameSocketHandlers {
  /** One decoded frame (ticks are skipped). */
  message(value: unknown): void;
  /** A frame was oversize or malformed; no further messages follow. */
  broken(error: ProtocolError): void;
  /** The socket is fully closed. Called once. */
  close(): void;
}

const READ_BYTES = 64 * 1024;
/** How long an ended socket waits for the peer's end before it is dropped. */
const END_GRACE_MS = 1000;

/** A TCP socket speaking u32-length + CBOR frames. */
export class FrameSocket {
  /** Resolves once the socket is fully closed. */
  readonly closed: Promise<void>;
  readonly #conn: Deno.TcpConn;
  readonly #codec: Codec;
  readonly #reader: FrameReader;
  readonly #handlers: FrameSocketHandlers;
  readonly #resolveClosed: () => void;
  #stopped = false;
  #isClosed = false;
  #ending = false;
  #peerEnded = false;
  #queue: Uint8Array[] = [];
  #writing = false;
  #killTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(conn: Deno.TcpConn, limits: Limits, handlers: FrameSocketHandlers) {
    this.#conn = conn;
    try {
      conn.setNoDelay(true);
    } catch { /* already closed: the read loop reports it */ }
    this.#codec = new Codec({ limits });
    this.#reader = new FrameReader({ maxFrameBytes: limits.maxFrameBytes });
    this.#handlers = handlers;
    let resolveClosed!: () => void;
    this.closed = new Promise((r) => resolveClosed = r);
    this.#resolveClosed = resolveClosed;
    void this.#readLoop();
  }

  /** Whether the socket has fully closed. */
  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Encodes and sends one value; a no-op once ending. */
  send(value: unknown): void {
    if (this.#isClosed || this.#ending) return;
    this.#queue.push(encodeFrame(this.#codec.encode(value)));
    if (!this.#writing) void this.#writeLoop();
  }

  /** Stops delivering messages, flushes what was sent, and closes. */
  end(): void {
    this.#stopped = true;
    if (this.#isClosed || this.#ending) return;
    this.#ending = true;
    this.#endWhenFlushed();
  }

  /** Closes at once. */
  destroy(): void {
    this.#stopped = true;
    this.#close();
  }

  #close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#stopped = true;
    this.#queue = [];
    if (this.#killTimer !== undefined) clearTimeout(this.#killTimer);
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    this.#resolveClosed();
    this.#handlers.close();
  }

  // After the last queued byte: half-close, then wait (a while) for the peer's end.
  #endWhenFlushed(): void {
    if (this.#isClosed || this.#writing || this.#queue.length > 0) return;
    try {
      this.#conn.closeWrite();
    } catch {
      return this.#close();
    }
    if (this.#peerEnded) return this.#close();
    // A peer that never closes its side must not hold the socket.
    this.#killTimer ??= setTimeout(() => this.#close(), END_GRACE_MS);
    Deno.unrefTimer(this.#killTimer as unknown as number);
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#isClosed) {
        const chunk = this.#queue.shift()!;
        let off = 0;
        while (off < chunk.length) off += await this.#conn.write(chunk.subarray(off));
      }
    } catch {
      this.#writing = false;
      return this.#close();
    }
    this.#writing = false;
    if (this.#ending) this.#endWhenFlushed();
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(READ_BYTES);
    for (;;) {
      let n: number | null;
      try {
        n = await this.#conn.read(buf);
      } catch {
        return this.#close();
      }
      if (n === null) break;
      this.#data(buf.subarray(0, n));
    }
    // The peer ended: end this side too (no half-open registry connections).
    this.#peerEnded = true;
    this.#stopped = true;
    this.#ending = true;
    this.#endWhenFlushed();
  }

  #data(chunk: Uint8Array): void {
    if (this.#stopped) return;
    try {
      this.#reader.push(chunk, (body) => {
        if (this.#stopped || body.length === 0) return;
        this.#handlers.message(this.#codec.decode(body));
      });
    } catch (e) {
      if (this.#stopped) return;
      this.#stopped = true;
      this.#handlers.broken(
        e instanceof ProtocolError ? e : new ProtocolError(String(e), { cause: e }),
      );
    }
  }
}
