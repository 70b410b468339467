/**
 * The `SshBackend` interface: one authenticated SSH connection and what the
 * layers above need from it.
 * @module
 */
import type { Duplex, Readable, Writable } from "node:stream";
import type { SshBackendKind } from "./target.ts";

/** How a remote command ended. */
export interface ExecExit {
  /** Exit status; null when the command was killed by a signal or the channel closed without one. */
  code: number | null;
  /** Signal name without "SIG" (e.g. "TERM"), when the command was killed by one. */
  signal: string | null;
}

/** Options for {@linkcode SshBackend.exec}. */
export interface ExecOptions {
  /** Aborting closes the channel. */
  signal?: AbortSignal;
}

/** A running remote command. Its streams are Node streams (bytes). */
export interface ExecChannel {
  /** The command's stdin; `end()` sends EOF. */
  readonly stdin: Writable;
  /** The command's stdout. */
  readonly stdout: Readable;
  /** The command's stderr. */
  readonly stderr: Readable;
  /**
   * stdin and stdout as one byte stream, for a stdio transport (when the server
   * refuses TCP forwarding). Use either this or `stdin`/`stdout`, not both.
   */
  readonly duplex: Duplex;
  /** Resolves when the command has ended and its output streams are finished. Never rejects. */
  readonly exit: Promise<ExecExit>;
  /**
   * Closes the channel; `exit` resolves after. The ssh2 backend first sends the
   * command SIGTERM; with the system backend the command sees EOF on stdin and a
   * closed stdout (sshd itself never kills a command whose channel closed).
   */
  close(): void;
}

/** A local listener on 127.0.0.1 whose connections are carried to a server-side host:port. */
export interface ForwardTunnel {
  /** Always "127.0.0.1". */
  readonly localHost: string;
  /** The port the local kernel chose. */
  readonly localPort: number;
  /** Where connections go, as seen from the server. */
  readonly remoteHost: string;
  readonly remotePort: number;
  /** Stops listening and closes the connections it carries. */
  close(): Promise<void>;
}

/** A listener on the server's 127.0.0.1 whose connections come back to a local host:port. */
export interface ReverseTunnel {
  /** Always "127.0.0.1". */
  readonly remoteHost: string;
  /** The port the server's kernel chose, as sshd reported it. */
  readonly remotePort: number;
  /** Where connections go on this side. */
  readonly localHost: string;
  readonly localPort: number;
  /** Cancels the server-side listener and closes the connections it carries. */
  close(): Promise<void>;
}

/** Options for {@linkcode SshBackend.forward}. */
export interface ForwardOptions {
  /** Host to reach from the server (default "127.0.0.1"). */
  remoteHost?: string;
}

/** Options for {@linkcode SshBackend.reverse}. */
export interface ReverseOptions {
  /** Local host the connections go to (default "127.0.0.1"). */
  localHost?: string;
  /** Server-side port to bind (default 0: the server's kernel chooses). */
  remotePort?: number;
}

/** Options for {@linkcode SshBackend.upload}. */
export interface UploadOptions {
  /** File mode (default 0o600). */
  mode?: number;
}

/** Why a connection ended. */
export interface SshCloseInfo {
  /** True when `close()` was called; false when the connection dropped. */
  requested: boolean;
  /** What went wrong, for a drop. */
  error?: Error;
}

/** Where a backend is connected, after ssh config resolution. */
export interface ConnectedTo {
  /** The real host name or address (HostName). */
  host: string;
  port: number;
  username: string;
  /** The host as the caller gave it (maybe an alias). */
  alias: string;
}

/**
 * One authenticated SSH connection. Obtained from `connectSsh`. Everything it
 * opens (channels, tunnels, processes, sockets) is closed by `close()`, and
 * also when the connection drops.
 */
export interface SshBackend extends AsyncDisposable {
  /** Which implementation this is. */
  readonly kind: SshBackendKind;
  /** Where it is connected. */
  readonly remote: ConnectedTo;
  /** Starts a command (a string run by the user's login shell). */
  exec(command: string, options?: ExecOptions): Promise<ExecChannel>;
  /**
   * Opens a listener on local 127.0.0.1 (kernel-chosen port) whose connections
   * reach `remotePort` on `remoteHost` (default 127.0.0.1) as seen from the server.
   */
  forward(remotePort: number, options?: ForwardOptions): Promise<ForwardTunnel>;
  /**
   * Asks sshd to listen on the server's 127.0.0.1 (port 0: its kernel chooses)
   * and to carry each connection back to local `localPort` (on `localHost`).
   * The tunnel reports the port sshd chose.
   */
  reverse(localPort: number, options?: ReverseOptions): Promise<ReverseTunnel>;
  /** Opens one TCP connection from the server to host:port, as a byte stream. */
  dial(remoteHost: string, remotePort: number): Promise<Duplex>;
  /**
   * Writes bytes to a file on the server (created or replaced, mode 0600 by
   * default). A path starting with "~/" is relative to the user's home.
   */
  upload(path: string, data: Uint8Array, options?: UploadOptions): Promise<void>;
  /** Resolves once when the connection ends, by `close()` or by a drop. Never rejects. */
  readonly closed: Promise<SshCloseInfo>;
  /** Calls `listener` when the connection ends; returns a function that removes it. */
  onClose(listener: (info: SshCloseInfo) => void): () => void;
  /** True until the connection has ended. */
  readonly connected: boolean;
  /** Closes everything; resolves when the connection and its processes are gone. */
  close(): Promise<void>;
}
