import type { Socket } from "node:net";
import { ProtocolError } from "../errors.ts";
import type { Limits } from "../limits.ts";
import { Codec, encodeFrame, FrameReader } from "../wire/mod.ts";

/** What a {@linkcode FrameSocket} reports. Handlers must not throw. */
export interface FrameSocketHandlers {
  /** One decoded frame (ticks are skipped). */
  message(value: unknown): void;
  /** A frame was oversize or malformed; no further messages follow. */
  broken(error: ProtocolError): void;
  /** The socket is fully closed. Called once. */
  close(): void;
}

/** A node:net socket speaking u32-length + CBOR frames. */
export class FrameSocket {
  /** Resolves once the socket is fully closed. */
  readonly closed: Promise<void>;
  readonly #socket: Socket;
  readonly #codec: Codec;
  readonly #reader: FrameReader;
  #stopped = false;
  #isClosed = false;
  #killTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(socket: Socket, limits: Limits, handlers: FrameSocketHandlers) {
    this.#socket = socket;
    socket.setNoDelay(true);
    this.#codec = new Codec({ limits });
    this.#reader = new FrameReader({ maxFrameBytes: limits.maxFrameBytes });
    let resolveClosed!: () => void;
    this.closed = new Promise((r) => resolveClosed = r);
    socket.on("data", (chunk: Uint8Array) => this.#data(chunk, handlers));
    // 'close' always follows; errors need a listener so they are not thrown.
    socket.on("error", () => {});
    socket.on("close", () => {
      this.#isClosed = true;
      this.#stopped = true;
      if (this.#killTimer !== undefined) clearTimeout(this.#killTimer);
      resolveClosed();
      handlers.close();
    });
  }

  /** Whether the socket has fully closed. */
  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Encodes and sends one value; a no-op once ending. */
  send(value: unknown): void {
    if (this.#isClosed || this.#socket.writableEnded) return;
    this.#socket.write(encodeFrame(this.#codec.encode(value)));
  }

  /** Stops delivering messages, flushes what was sent, and closes. */
  end(): void {
    this.#stopped = true;
    if (this.#isClosed || this.#socket.writableEnded) return;
    this.#socket.end();
    // A peer that never closes its side must not hold the socket.
    const timer = setTimeout(() => this.#socket.destroy(), 1000);
    Deno.unrefTimer(timer);
    this.#killTimer = timer;
  }

  /** Closes at once. */
  destroy(): void {
    this.#stopped = true;
    this.#socket.destroy();
  }

  #data(chunk: Uint8Array, handlers: FrameSocketHandlers): void {
    if (this.#stopped) return;
    try {
      this.#reader.push(chunk, (body) => {
        if (this.#stopped || body.length === 0) return;
        handlers.message(this.#codec.decode(body));
      });
    } catch (e) {
      if (this.#stopped) return;
      this.#stopped = true;
      handlers.broken(
        e instanceof ProtocolError ? e : new ProtocolError(String(e), { cause: e }),
      );
    }
  }
}
