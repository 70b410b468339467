import { ConnectError } from "../errors.ts";
import { recycleFrame } from "../wire/frame.ts";
import type { Transport, TransportHandlers } from "./transport.ts";

// Deno's own sockets, not node:net: no stream machinery per chunk, and the agent
// never pays for loading the Node compatibility layer's net module at startup.

/** Bytes read from the socket per call; the buffer is reused (see TransportHandlers.data). */
const READ_BYTES = 256 * 1024;
/** A frame's unread rest at least this big is read into its own buffer (see TransportHandlers.spare). */
const DIRECT_READ_BYTES = 64 * 1024;
/** Queued chunks are joined into writes of up to this many bytes. */
const COALESCE_BYTES = 256 * 1024;
/** How long a closed transport waits for the peer's end before dropping the socket. */
const CLOSE_GRACE_MS = 1000;

/**
 * Wraps a connected Deno TCP socket as a transport (Nagle off). `onGone` runs once
 * the socket is closed, whether or not the transport was started.
 */
export function connTransport(
  conn: Deno.TcpConn,
  label: string,
  onGone?: () => void,
): Transport {
  try {
    conn.setNoDelay(true);
  } catch { /* already closed: the read loop reports it */ }
  let handlers: TransportHandlers | undefined;
  let closed = false;
  let ending = false; // no more writes: flush what is queued, then FIN
  let peerEnded = false;
  let early: { error: Error | undefined } | undefined;
  let queue: Uint8Array[] = [];
  let queued = 0;
  let writing = false;
  let killer: ReturnType<typeof setTimeout> | undefined;

  const finish = (error?: Error) => {
    if (closed) return;
    closed = true;
    clearTimeout(killer);
    queue = [];
    queued = 0;
    try {
      conn.close();
    } catch { /* already closed */ }
    onGone?.();
    if (handlers) handlers.close(error);
    else early = { error };
  };

  // After the last queued byte: half-close, and give the peer a moment to close too.
  const endWhenFlushed = () => {
    if (closed || writing || queue.length > 0) return;
    try {
      conn.closeWrite();
    } catch {
      return finish();
    }
    if (peerEnded) return finish();
    killer ??= setTimeout(() => finish(), CLOSE_GRACE_MS);
    Deno.unrefTimer(killer as unknown as number);
  };

  const writeLoop = async () => {
    writing = true;
    try {
      while (queue.length > 0 && !closed) {
        const chunks = queue;
        queue = [];
        for (let i = 0; i < chunks.length && !closed;) {
          // Small chunks queued meanwhile go out together; big ones as they are.
          let chunk = chunks[i++]!;
          let size = chunk.length;
          let j = i;
          while (j < chunks.length && size + chunks[j]!.length <= COALESCE_BYTES) {
            size += chunks[j++]!.length;
          }
          if (j > i) {
            const joined = new Uint8Array(size);
            joined.set(chunk);
            let off = chunk.length;
            for (; i < j; i++) {
              joined.set(chunks[i]!, off);
              off += chunks[i]!.length;
            }
            chunk = joined;
          }
          let off = 0;
          while (off < chunk.length) off += await conn.write(chunk.subarray(off));
          queued -= chunk.length;
          recycleFrame(chunk); // a large frame's buffer may serve the next one
        }
      }
    } catch (e) {
      writing = false;
      return finish(ending ? undefined : e as Error);
    }
    writing = false;
    if (ending) endWhenFlushed();
  };

  const readLoop = async (h: TransportHandlers) => {
    const buf = new Uint8Array(READ_BYTES);
    for (;;) {
      // The rest of a large frame goes straight into its own buffer: no copy out of ours.
      const spare = h.spare?.();
      const into = spare && spare.length >= DIRECT_READ_BYTES ? spare : buf;
      let n: number | null;
      try {
        n = await conn.read(into);
      } catch (e) {
        return finish(ending ? undefined : e as Error);
      }
      if (n === null) break;
      if (closed) return;
      h.data(into.subarray(0, n));
    }
    // The peer ended: end this side too once what is queued has gone out.
    peerEnded = true;
    ending = true;
    endWhenFlushed();
  };

  return {
    label,
    get buffered() {
      return queued;
    },
    start(h) {
      handlers = h;
      if (early) return h.close(early.error);
      void readLoop(h);
    },
    write(chunk) {
      if (closed || ending) return;
      queue.push(chunk);
      queued += chunk.length;
      if (!writing) void writeLoop();
    },
    close() {
      if (closed || ending) return;
      ending = true;
      endWhenFlushed();
    },
    // For a silent peer: no flush, no grace period (see Transport.abort).
    abort() {
      finish();
    },
  };
}

/** Options for {@linkcode tcpConnect}. */
export interface TcpConnectOptions {
  /** Host to dial; default 127.0.0.1. */
  host?: string;
}

/** Dials a TCP port and wraps the socket as a transport. */
export async function tcpConnect(
  port: number,
  options: TcpConnectOptions = {},
): Promise<Transport> {
  const host = options.host ?? "127.0.0.1";
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: host, port, transport: "tcp" });
  } catch (e) {
    throw new ConnectError(`cannot connect to ${host}:${port}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return connTransport(conn, `tcp ${host}:${port}`);
}

/** A listening TCP socket that hands each connection over as a transport. */
export interface TcpListener {
  /** The port the kernel chose (or the one asked for). */
  readonly port: number;
  /**
   * Stops listening. Connections already accepted stay open; the promise resolves
   * once they have closed too (close them first for a prompt answer).
   */
  close(): Promise<void>;
}

/** Options for {@linkcode tcpListen}. */
export interface TcpListenOptions {
  /** Port to bind; 0 (default) lets the kernel choose. */
  port?: number;
  /** Address to bind; default 127.0.0.1. Fusion never binds beyond loopback by default. */
  host?: string;
}

/** Listens on TCP and calls `onTransport` for each accepted connection. */
export function tcpListen(
  onTransport: (t: Transport) => void,
  options: TcpListenOptions = {},
): Promise<TcpListener> {
  const host = options.host ?? "127.0.0.1";
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: host, port: options.port ?? 0, transport: "tcp" });
  } catch (e) {
    return Promise.reject(e);
  }
  const open = new Set<Promise<void>>();
  let stopped = false;
  const accepting = (async () => {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (e) {
        // A failed accept (e.g. out of descriptors) costs that connection only.
        if (stopped || e instanceof Deno.errors.BadResource) return;
        continue;
      }
      const addr = conn.remoteAddr as Deno.NetAddr;
      // The listener's close() waits until each accepted connection is gone.
      const { promise: gone, resolve } = Promise.withResolvers<void>();
      open.add(gone);
      gone.then(() => open.delete(gone));
      onTransport(connTransport(conn, `tcp ${addr.hostname}:${addr.port}`, resolve));
    }
  })();
  return Promise.resolve({
    port: (listener.addr as Deno.NetAddr).port,
    close: async () => {
      if (!stopped) {
        stopped = true;
        try {
          listener.close();
        } catch { /* already closed */ }
      }
      await accepting;
      await Promise.all(open);
    },
  });
}
