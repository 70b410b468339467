import { createConnection, createServer, type Server, type Socket } from "node:net";
import { ConnectError } from "../errors.ts";
import { duplexTransport, type Transport } from "./transport.ts";

/** Options for {@linkcode tcpConnect}. */
export interface TcpConnectOptions {
  /** Host to dial; default 127.0.0.1. */
  host?: string;
}

/** Dials a TCP port and wraps the socket as a transport. */
export function tcpConnect(port: number, options: TcpConnectOptions = {}): Promise<Transport> {
  const host = options.host ?? "127.0.0.1";
  return new Promise((resolve, reject) => {
    const socket: Socket = createConnection({ host, port, noDelay: true });
    const fail = (e: Error) => {
      socket.destroy();
      reject(new ConnectError(`cannot connect to ${host}:${port}: ${e.message}`, { cause: e }));
    };
    socket.once("error", fail);
    socket.once("connect", () => {
      socket.off("error", fail);
      socket.setNoDelay(true);
      resolve(duplexTransport(socket, `tcp ${host}:${port}`));
    });
  });
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
  return new Promise((resolve, reject) => {
    const server: Server = createServer({ noDelay: true }, (socket) => {
      socket.setNoDelay(true);
      onTransport(duplexTransport(socket, `tcp ${socket.remoteAddress}:${socket.remotePort}`));
    });
    server.once("error", reject);
    server.listen({ host, port: options.port ?? 0 }, () => {
      server.off("error", reject);
      // A failed accept must not become an uncaught 'error' event that ends the process.
      server.on("error", () => {});
      const addr = server.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      resolve({
        port,
        close: () => new Promise<void>((res) => server.close(() => res())),
      });
    });
  });
}
