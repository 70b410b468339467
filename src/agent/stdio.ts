import { ProtocolError } from "../errors.ts";
import type { Transport, TransportHandlers } from "../dist/transport.ts";
import { FrameReader } from "../wire/frame.ts";

/**
 * The agent's stdin and stdout: a few setup frames first, then (when the
 * server refuses TCP forwarding) the node connection itself. Setup is strictly
 * request and answer, so no transport bytes arrive before `transport()`.
 */
export class StdioChannel {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #frames = new FrameReader({ maxFrameBytes: 1024 * 1024 });
  #queue: Uint8Array[] = [];
  #eof = false;

  constructor(stdin: ReadableStream<Uint8Array>, stdout: WritableStream<Uint8Array>) {
    this.#reader = stdin.getReader();
    this.#writer = stdout.getWriter();
  }

  /** Reads one setup frame body; rejects at end of input. */
  async readFrame(): Promise<Uint8Array> {
    while (this.#queue.length === 0) {
      if (this.#eof) throw new ProtocolError("stdin closed during setup");
      const { value, done } = await this.#reader.read();
      if (done) {
        this.#eof = true;
        continue;
      }
      // Only whole setup frames are taken; whatever follows belongs to the transport.
      this.#frames.push(value, (body) => this.#queue.push(body.slice()));
    }
    return this.#queue.shift()!;
  }

  /** Writes one frame (already length-prefixed). */
  write(frame: Uint8Array): Promise<void> {
    return this.#writer.write(frame);
  }

  /** Resolves when stdin ends. */
  async waitEof(): Promise<void> {
    while (!this.#eof) {
      const { done } = await this.#reader.read();
      if (done) this.#eof = true;
    }
  }

  /** The rest of stdin and stdout as a transport for the node connection. */
  transport(): Transport {
    let closed = false;
    let handlers: TransportHandlers | undefined;
    const finish = (error?: Error) => {
      if (closed) return;
      closed = true;
      handlers?.close(error);
    };
    return {
      label: "stdio",
      buffered: 0,
      start: (h) => {
        handlers = h;
        (async () => {
          try {
            while (!closed) {
              const { value, done } = await this.#reader.read();
              if (done) break;
              h.data(value);
            }
            finish();
          } catch (e) {
            finish(e as Error);
          }
        })();
      },
      write: (chunk) => {
        if (!closed) this.#writer.write(chunk.slice()).catch((e) => finish(e));
      },
      close: () => {
        this.#writer.close().catch(() => {});
        finish();
      },
    };
  }
}
