import type { Duplex } from "node:stream";

/** What a transport reports to its owner. */
export interface TransportHandlers {
  /** Bytes arrived. The chunk may be reused after the call returns. */
  data(chunk: Uint8Array): void;
  /** The carrier closed, cleanly or with `error`. Called once. */
  close(error?: Error): void;
  /**
   * Optional: where the transport may read the next bytes instead of its own buffer (the
   * rest of a large frame). The transport then calls `data` with the view it filled.
   */
  spare?(): Uint8Array | undefined;
}

/**
 * A byte carrier between two nodes: TCP, SSH-forwarded TCP, an exec channel's
 * stdio, or an in-memory pair. The dist layer knows nothing else about it.
 */
export interface Transport {
  /** Starts delivering events. Called once. */
  start(handlers: TransportHandlers): void;
  /** Queues bytes for sending. */
  write(chunk: Uint8Array): void;
  /** Bytes queued but not yet handed to the carrier. */
  readonly buffered: number;
  /** Closes the carrier; `close` is reported to the handlers. */
  close(): void;
  /**
   * Closes at once, dropping what is unsent, without waiting for the peer: for a peer
   * that stopped answering. Optional; `close` is used where absent.
   */
  abort?(): void;
  /** A description for logs, e.g. "tcp 127.0.0.1:4370". */
  readonly label: string;
}

/** Wraps a Node.js duplex stream (a `net.Socket`, an ssh2 channel) as a transport. */
export function duplexTransport(stream: Duplex, label: string): Transport {
  let handlers: TransportHandlers | undefined;
  let closed = false;
  let early: { error: Error | undefined } | undefined;
  let killer: ReturnType<typeof setTimeout> | undefined;
  const finish = (error?: Error) => {
    if (closed) return;
    closed = true;
    clearTimeout(killer);
    if (handlers) handlers.close(error);
    else early = { error };
  };
  // Listening from the start: an error before `start` must not go unhandled.
  stream.on("error", (e: Error) => {
    finish(e);
    stream.destroy();
  });
  stream.on("close", () => finish());
  stream.on("end", () => stream.end());
  return {
    label,
    get buffered() {
      return stream.writableLength;
    },
    start(h) {
      handlers = h;
      if (early) return h.close(early.error);
      stream.on("data", (chunk: Uint8Array) => {
        if (!closed) h.data(chunk);
      });
    },
    write(chunk) {
      if (!closed && stream.writable) stream.write(chunk);
    },
    close() {
      if (closed || killer !== undefined) return;
      stream.end();
      // An ended stream whose peer never answers still has to go.
      killer = setTimeout(() => stream.destroy(), 1000);
      Deno.unrefTimer(killer);
    },
    abort() {
      if (closed) return;
      clearTimeout(killer);
      stream.destroy();
    },
  };
}

class MemoryTransport implements Transport {
  peer: MemoryTransport | undefined;
  readonly buffered = 0;
  #handlers: TransportHandlers | undefined;
  #pending: Uint8Array[] = [];
  #closed = false;

  constructor(readonly label: string) {}

  start(h: TransportHandlers): void {
    this.#handlers = h;
    for (const c of this.#pending.splice(0)) h.data(c);
    if (this.#closed) h.close();
  }

  write(chunk: Uint8Array): void {
    if (this.#closed) return;
    const copy = chunk.slice();
    queueMicrotask(() => this.peer?.deliver(copy));
  }

  deliver(chunk: Uint8Array): void {
    if (this.#closed) return;
    if (this.#handlers) this.#handlers.data(chunk);
    else this.#pending.push(chunk);
  }

  shut(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers?.close();
  }

  close(): void {
    queueMicrotask(() => {
      this.shut();
      this.peer?.shut();
    });
  }
}

/** Two transports joined back to back, in memory. */
export function memoryTransportPair(): [Transport, Transport] {
  const a = new MemoryTransport("memory a");
  const b = new MemoryTransport("memory b");
  a.peer = b;
  b.peer = a;
  return [a, b];
}
