import { ConnectError, ProtocolError, TimeoutError } from "../errors.ts";
import type { Limits } from "../limits.ts";
import { FrameSocket } from "./_frame_socket.ts";

/** A client's connection to a registry: send values, await replies in order. */
export class ClientConn {
  readonly #fs: FrameSocket;
  readonly #queue: unknown[] = [];
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  private constructor(conn: Deno.TcpConn, limits: Limits, label: string) {
    this.#fs = new FrameSocket(conn, limits, {
      message: (v) => {
        this.#queue.push(v);
        this.#wake?.();
      },
      broken: (e) => {
        this.#error ??= e;
        this.#fs.destroy();
        this.#wake?.();
      },
      close: () => {
        this.#error ??= new ProtocolError(`the registry at ${label} closed the connection`);
        this.#wake?.();
      },
    });
  }

  /**
   * Dials the registry. Rejects with `ConnectError` when nothing answers, after
   * the failed socket is fully closed.
   */
  static connect(
    port: number,
    options: { host: string; limits: Limits; signal?: AbortSignal | undefined },
  ): Promise<ClientConn> {
    const { host, limits, signal } = options;
    const label = `${host}:${port}`;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      let settled = false;
      const settle = (e: Error | undefined, conn?: Deno.TcpConn) => {
        if (settled) {
          // Given up already (timeout or abort): a late socket is closed at once.
          try {
            conn?.close();
          } catch { /* already closed */ }
          return;
        }
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (e) reject(e);
        else resolve(new ClientConn(conn!, limits, label));
      };
      const onAbort = () => settle(abortError(signal!));
      const timer = setTimeout(
        () => settle(new TimeoutError(`connecting to the registry at ${label} timed out`)),
        limits.handshakeTimeoutMs,
      );
      signal?.addEventListener("abort", onAbort, { once: true });
      Deno.connect({ hostname: host, port, transport: "tcp" }).then(
        (conn) => settle(undefined, conn),
        (e: Error) =>
          settle(new ConnectError(`no registry answers at ${label}: ${e.message}`, { cause: e })),
      );
    });
  }

  /** Resolves once the connection is fully closed. */
  get closed(): Promise<void> {
    return this.#fs.closed;
  }

  /** Sends one value. */
  send(value: unknown): void {
    this.#fs.send(value);
  }

  /** The next reply; rejects on close, a bad frame, `timeoutMs` or `signal`. */
  async receive(timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => this.#fs.destroy();
    try {
      signal?.addEventListener("abort", onAbort, { once: true });
      while (this.#queue.length === 0) {
        if (signal?.aborted) throw abortError(signal);
        if (this.#error) throw this.#error;
        let timedOut = false;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          timer = setTimeout(() => {
            timedOut = true;
            resolve();
          }, timeoutMs);
        });
        clearTimeout(timer);
        this.#wake = undefined;
        if (timedOut && this.#queue.length === 0) {
          throw new TimeoutError(`the registry did not answer within ${timeoutMs} ms`);
        }
      }
      return this.#queue.shift();
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Closes at once and waits until the socket is gone. */
  close(): Promise<void> {
    this.#fs.destroy();
    return this.#fs.closed;
  }
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException("aborted", "AbortError");
}
