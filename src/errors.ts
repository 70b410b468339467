/**
 * Error classes, one per failure family. Each has a stable `name` equal to its
 * class name and keeps the underlying failure in `cause`.
 * @module
 */

/**
 * Options shared by every Fusion error.
 *
 * @example
 * ```ts
 * const err = new FusionError("upload failed", { cause: new Error("EPIPE") });
 * err.cause; // Error: EPIPE
 * ```
 */
export interface FusionErrorOptions {
  /** The underlying failure. */
  cause?: unknown;
}

/**
 * Base class of every error Fusion throws.
 *
 * @example
 * ```ts
 * import { parseTarget } from "./mod.ts";
 * try {
 *   parseTarget("web-01:99999");
 * } catch (e) {
 *   if (e instanceof FusionError) console.error(e.name, e.message); // "TargetError" …
 * }
 * ```
 */
export class FusionError extends Error {
  /** Makes an error whose `name` is its class name, keeping `options.cause`. */
  constructor(message: string, options: FusionErrorOptions = {}) {
    super(message, "cause" in options ? { cause: options.cause } : undefined);
    this.name = new.target.name;
  }
}

/**
 * A receive did not get a matching message in time, or a step hung.
 *
 * @example
 * ```ts
 * import { Node } from "./mod.ts";
 * await using node = await Node.start({ registryPort: 0 });
 * using inbox = node.inbox();
 * await inbox.receive({ timeoutMs: 10 }).catch((e) => e instanceof TimeoutError); // true
 * ```
 */
export class TimeoutError extends FusionError {}

/**
 * The node on the other side of a call or message went away.
 *
 * @example
 * ```ts
 * import { Node } from "./mod.ts";
 * await using node = await Node.start({ registryPort: 0 });
 * const err = await node.request("nobody@localhost", "ping", null).catch((e) => e);
 * err instanceof NodeDownError && err.node; // "nobody@localhost"
 * ```
 */
export class NodeDownError extends FusionError {
  /** The full name of the node that went down. */
  readonly node: string;
  /** The message defaults to "node <node> is down". */
  constructor(node: string, message?: string, options: FusionErrorOptions = {}) {
    super(message ?? `node ${node} is down`, options);
    this.node = node;
  }
}

/**
 * A registered name or pid does not refer to a live process.
 *
 * @example
 * ```ts
 * import { Node } from "./mod.ts";
 * await using node = await Node.start({ registryPort: 0 });
 * const inbox = node.inbox();
 * inbox.close();
 * await inbox.receive().catch((e) => e instanceof NoProcError); // true: it has exited
 * ```
 */
export class NoProcError extends FusionError {}

/**
 * A name is already registered to another process or node.
 *
 * @example
 * ```ts
 * import { Node } from "./mod.ts";
 * await using a = await Node.start({ name: "app", registryPort: 0 });
 * const again = Node.start({ name: "app", registryPort: a.registryPort });
 * await again.catch((e) => e instanceof NameTakenError); // true: "app@localhost" is taken
 * ```
 */
export class NameTakenError extends FusionError {}

/**
 * A node name is malformed (see the registry's name rules).
 *
 * @example
 * ```ts
 * function explain(e: unknown): string {
 *   return e instanceof InvalidNameError ? `bad node name: ${e.message}` : String(e);
 * }
 * ```
 */
export class InvalidNameError extends FusionError {}

/**
 * A peer broke the protocol, or a value cannot be sent.
 *
 * @example
 * ```ts
 * import { Node, Pid } from "./mod.ts";
 * await using node = await Node.start({ registryPort: 0 });
 * const elsewhere = new Pid("other@localhost", 1, 1);
 * // Functions cannot be sent: this logs true.
 * try { node.send(elsewhere, () => {}); } catch (e) { console.log(e instanceof ProtocolError); }
 * ```
 */
export class ProtocolError extends FusionError {}

/**
 * Authentication between nodes (cookie or ticket) failed.
 *
 * @example
 * ```ts
 * import { Node } from "./mod.ts";
 * await using a = await Node.start({ cookie: "one", registryPort: 0 });
 * const other = Node.start({ cookie: "two", registryPort: a.registryPort });
 * await other.catch((e) => e instanceof AuthenticationError); // true: the registry refuses it
 * ```
 */
export class AuthenticationError extends ProtocolError {}

/**
 * A module could not be bundled for the remote.
 *
 * @example
 * ```ts ignore
 * import { pushModule } from "./mod.ts";
 * await pushModule(remote, "./no-such-file.ts").catch((e) => e instanceof BundleError); // true
 * ```
 */
export class BundleError extends FusionError {}

/**
 * A target specification is malformed.
 *
 * @example
 * ```ts
 * import { parseTarget } from "./mod.ts";
 * try {
 *   parseTarget("deploy@web-01:99999");
 * } catch (e) {
 *   console.log(e instanceof TargetError); // true: port must be 1-65535
 * }
 * ```
 */
export class TargetError extends FusionError {}

/**
 * Connecting to a server failed. `AuthError`, `HostKeyError` and
 * `BootstrapError` are kinds of it.
 *
 * @example
 * ```ts ignore
 * import { connect } from "./mod.ts";
 * try {
 *   await connect("deploy@web-01");
 * } catch (e) {
 *   if (e instanceof ConnectError) console.error(`web-01 is unreachable: ${e.message}`);
 * }
 * ```
 */
export class ConnectError extends FusionError {}

/**
 * The SSH server refused every credential offered.
 *
 * @example
 * ```ts ignore
 * import { connect } from "./mod.ts";
 * const target = { host: "web-01", auth: { key: "~/.ssh/old_key" } };
 * await connect(target).catch((e) => e instanceof AuthError); // true when the key is refused
 * ```
 */
export class AuthError extends ConnectError {}

/**
 * The server's host key is unknown or changed.
 *
 * @example
 * ```ts ignore
 * import { connect } from "./mod.ts";
 * // "strict" (the default) refuses a host missing from known_hosts.
 * await connect("deploy@new-host").catch((e) => e instanceof HostKeyError); // true
 * ```
 */
export class HostKeyError extends ConnectError {}

/**
 * The agent could not be started on the server.
 *
 * @example
 * ```ts ignore
 * import { connect } from "./mod.ts";
 * try {
 *   await connect("deploy@web-01");
 * } catch (e) {
 *   if (e instanceof BootstrapError) console.error(e.message, e.stderr);
 * }
 * ```
 */
export class BootstrapError extends ConnectError {
  /** The last lines the agent or its shell wrote to stderr. */
  readonly stderr: string;
  /** `options.stderr` becomes `stderr` (default ""). */
  constructor(message: string, options: FusionErrorOptions & { stderr?: string } = {}) {
    super(message, options);
    this.stderr = options.stderr ?? "";
  }
}

/**
 * An error thrown on another node, carried back as data.
 *
 * @example
 * ```ts
 * import { Node } from "./mod.ts";
 * await using a = await Node.start({ registryPort: 0 });
 * await using b = await Node.start({ registryPort: a.registryPort });
 * a.serve("fail", () => { throw new RangeError("out of range"); });
 * const err = await b.request(a.name, "fail", null).catch((e) => e);
 * err instanceof RemoteError && err.remoteName; // "RangeError"
 * ```
 */
export class RemoteError extends FusionError {
  /** The class name of the error on the remote. */
  readonly remoteName: string;
  /** The remote stack trace, as text. */
  readonly remoteStack: string;
  /** The node the error came from, when known. */
  readonly node: string;
  /** Rebuilds an error from its data: its message reads "<name>: <message>". */
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
