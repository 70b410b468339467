/**
 * Error classes, one per failure family. Each has a stable `name` equal to its
 * class name and keeps the underlying failure in `cause`.
 * @module
 */

/** Options shared by every Fusion error. */
export interface FusionErrorOptions {
  /** The underlying failure. */
  cause?: unknown;
}

/** Base class of every error Fusion throws. */
export class FusionError extends Error {
  constructor(message: string, options: FusionErrorOptions = {}) {
    super(message, "cause" in options ? { cause: options.cause } : undefined);
    this.name = new.target.name;
  }
}

/** A receive did not get a matching message in time, or a step hung. */
export class TimeoutError extends FusionError {}

/** The node on the other side of a call or message went away. */
export class NodeDownError extends FusionError {
  /** The full name of the node that went down. */
  readonly node: string;
  constructor(node: string, message?: string, options: FusionErrorOptions = {}) {
    super(message ?? `node ${node} is down`, options);
    this.node = node;
  }
}

/** A registered name or pid does not refer to a live process. */
export class NoProcError extends FusionError {}

/** A name is already registered to another process or node. */
export class NameTakenError extends FusionError {}

/** A node name is malformed (see the registry's name rules). */
export class InvalidNameError extends FusionError {}

/** A peer broke the protocol, or a value cannot be sent. */
export class ProtocolError extends FusionError {}

/** Authentication between nodes (cookie or ticket) failed. */
export class AuthenticationError extends ProtocolError {}

/** A module could not be bundled for the remote. */
export class BundleError extends FusionError {}

/** A target specification is malformed. */
export class TargetError extends FusionError {}

/** Connecting to a server failed. */
export class ConnectError extends FusionError {}

/** The SSH server refused every credential offered. */
export class AuthError extends ConnectError {}

/** The server's host key is unknown or changed. */
export class HostKeyError extends ConnectError {}

/** The agent could not be started on the server. */
export class BootstrapError extends ConnectError {
  /** The last lines the agent or its shell wrote to stderr. */
  readonly stderr: string;
  constructor(message: string, options: FusionErrorOptions & { stderr?: string } = {}) {
    super(message, options);
    this.stderr = options.stderr ?? "";
  }
}

/** An error thrown on another node, carried back as data. */
export class RemoteError extends FusionError {
  /** The class name of the error on the remote. */
  readonly remoteName: string;
  /** The remote stack trace, as text. */
  readonly remoteStack: string;
  /** The node the error came from, when known. */
  readonly node: string;
  constructor(
    remote: { name: string; message: string; stack?: string; cause?: unknown },
    options: { node?: string } = {},
  ) {
    super(
      `${remote.name}: ${remote.message}`,
      remote.cause === undefined ? {} : { cause: remote.cause },
    );
    this.remoteName = remote.name;
    this.remoteStack = remote.stack ?? "";
    this.node = options.node ?? "";
  }
}
