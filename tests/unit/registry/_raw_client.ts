import { createConnection, type Socket } from "node:net";
import { Codec, encodeFrame, FrameReader } from "../../../src/wire/mod.ts";

/** A bare TCP client for poking the registry with arbitrary bytes. */
export class RawClient {
  readonly closed: Promise<void>;
  readonly #socket: Socket;
  readonly #codec = new Codec();
  readonly #reader = new FrameReader();
  readonly #frames: unknown[] = [];
  #wake: (() => void) | undefined;
  #isClosed = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on("error", () => {});
    socket.on("data", (chunk: Uint8Array) => {
      this.#reader.push(chunk, (body) => this.#frames.push(this.#codec.decode(body)));
      this.#wake?.();
    });
    this.closed = new Promise((resolve) =>
      socket.on("close", () => {
        this.#isClosed = true;
        this.#wake?.();
        resolve();
      })
    );
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host: "127.0.0.1", port });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new RawClient(socket));
      });
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  send(value: unknown): void {
    this.write(encodeFrame(this.#codec.encode(value)));
  }

  write(bytes: Uint8Array): void {
    this.#socket.write(bytes);
  }

  /** The next frame, or undefined once the socket closed without one. */
  async next(timeoutMs = 3000): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    while (this.#frames.length === 0 && !this.#isClosed) {
      if (Date.now() > deadline) throw new Error("no frame in time");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, 50);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
    return this.#frames.shift();
  }

  close(): Promise<void> {
    this.#socket.destroy();
    return this.closed;
  }
}
