/**
 * Targets: where to connect and how, and `parseTarget` for "user@host:port".
 * @module
 */
import { TargetError } from "../errors.ts";

/**
 * How host keys are checked.
 *
 * @example
 * ```ts
 * const policy: HostKeyPolicy = "accept-new"; // trust on first use, refuse changed keys
 * const target: Target = { host: "web-01", hostKeys: { policy } };
 * ```
 */
export type HostKeyPolicy = "strict" | "accept-new" | "insecure";

/**
 * Host key checking for a target.
 *
 * @example
 * ```ts
 * const hostKeys: HostKeyOptions = {
 *   policy: "strict",
 *   knownHosts: ["~/.ssh/known_hosts", "/etc/ssh/ssh_known_hosts"],
 * };
 * const target: Target = { host: "web-01", hostKeys };
 * ```
 */
export interface HostKeyOptions {
  /**
   * "strict" (default): an unknown or changed key is refused with HostKeyError.
   * "accept-new": unknown keys are appended to the first known_hosts file; changed keys are refused.
   * "insecure": any key is accepted (explicit opt-in).
   */
  policy?: HostKeyPolicy;
  /** known_hosts file(s); `~` is expanded. Default ~/.ssh/known_hosts (or the ssh config's). */
  knownHosts?: string | string[];
}

/**
 * A private key file, `~` expanded, with its passphrase when encrypted.
 *
 * @example
 * ```ts
 * const auth: KeyAuth = { key: "~/.ssh/deploy_ed25519", passphrase: "correct horse" };
 * const target: Target = { host: "web-01", username: "deploy", auth };
 * ```
 */
export interface KeyAuth {
  /** Path of the private key file; `~` is expanded. */
  key: string;
  /** The passphrase of an encrypted key. */
  passphrase?: string;
}

/**
 * A password (ssh2 backend only: the system backend refuses it).
 *
 * @example
 * ```ts
 * const auth: PasswordAuth = { password: "s3cret" };
 * const target: Target = { host: "web-01", username: "deploy", auth, sshBackend: "ssh2" };
 * ```
 */
export interface PasswordAuth {
  /** The login password. */
  password: string;
}

/**
 * An ssh-agent: `true` for SSH_AUTH_SOCK, or the agent's socket path.
 *
 * @example
 * ```ts
 * const fromEnv: AgentAuth = { agent: true };
 * const bySocket: AgentAuth = { agent: "/run/user/1000/ssh-agent.sock" };
 * const target: Target = { host: "web-01", auth: fromEnv };
 * ```
 */
export interface AgentAuth {
  /** `true` for the agent at SSH_AUTH_SOCK, or the agent's socket path. */
  agent: true | string;
}

/**
 * One way to authenticate.
 *
 * @example
 * ```ts
 * const auth: TargetAuth = Deno.env.has("SSH_AUTH_SOCK")
 *   ? { agent: true }
 *   : { key: "~/.ssh/id_ed25519" };
 * ```
 */
export type TargetAuth = KeyAuth | PasswordAuth | AgentAuth;

/**
 * Which SSH implementation carries the connection.
 *
 * @example
 * ```ts
 * // The `ssh` binary, with everything ~/.ssh/config sets up for it.
 * const target: Target = { host: "web-01", sshBackend: "system" };
 * ```
 */
export type SshBackendKind = "ssh2" | "system";

/**
 * A server to connect to, and how.
 *
 * @example
 * ```ts ignore
 * import { connect } from "./mod.ts";
 * const target: Target = { host: "10.0.0.5", port: 2222, username: "deploy", proxyJump: "bastion" };
 * await using remote = await connect(target);
 * ```
 */
export interface Target {
  /** Host name, address, or an ~/.ssh/config alias (resolved at connect time). */
  host: string;
  /** Port; default from the ssh config, else 22. */
  port?: number;
  /** Login name; default from the ssh config, else the local user. */
  username?: string;
  /**
   * Credentials. Default: the ssh agent when SSH_AUTH_SOCK is set, then the
   * ssh config's IdentityFile, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa.
   */
  auth?: TargetAuth;
  /** Host key checking; default strict against ~/.ssh/known_hosts. */
  hostKeys?: HostKeyOptions;
  /** A jump host: "user@host:port", an ssh config alias, or a comma-separated chain. */
  proxyJump?: string;
  /** "ssh2" (default) or "system" (the `ssh` binary with a ControlMaster). */
  sshBackend?: SshBackendKind;
  /** Where Deno is on the server (used by the layers above). */
  deno?: string;
  /** An ssh config file to read instead of ~/.ssh/config (like `ssh -F`). */
  sshConfig?: string;
}

/** The input as a quoted, escaped string: an error message stays one line of plain text. */
function quote(input: string): string {
  return JSON.stringify(input).replace(
    /[\x7f-\x9f]/g,
    (c) => `\\u00${c.charCodeAt(0).toString(16)}`,
  );
}

const HOST_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?$/;
const USER_RE = /^[A-Za-z0-9_.][A-Za-z0-9_.@+-]*$/;

/** True for something that looks like an IPv6 address (optionally with a %zone). */
function isIpv6(s: string): boolean {
  return /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/.test(s) && s.includes(":") &&
    (s.match(/:/g)?.length ?? 0) >= 2;
}

/** Checks a host name or address; throws TargetError naming `input`. */
export function validateHost(host: string, input: string = host): void {
  if (host === "") throw new TargetError(`malformed target ${quote(input)}: empty host`);
  if (isIpv6(host)) return;
  if (!HOST_RE.test(host)) {
    throw new TargetError(`malformed target ${quote(input)}: invalid host ${quote(host)}`);
  }
}

/** Checks a login name; throws TargetError naming `input`. */
export function validateUsername(user: string, input: string = user): void {
  if (!USER_RE.test(user)) {
    throw new TargetError(`malformed target ${quote(input)}: invalid user name ${quote(user)}`);
  }
}

/** Checks a port number; throws TargetError naming `input`. */
export function validatePort(port: number, input: string = String(port)): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TargetError(`malformed target ${quote(input)}: port must be 1-65535`);
  }
}

function parsePort(text: string, input: string): number {
  if (!/^\d{1,5}$/.test(text)) {
    throw new TargetError(`malformed target ${quote(input)}: port ${quote(text)} is not a number`);
  }
  const port = Number(text);
  validatePort(port, input);
  return port;
}

/**
 * Parses "host", "user@host", "host:port", "user@host:port", "[ipv6]:port",
 * a bare IPv6 address, or "ssh://user@host:port". Synchronous; parses only
 * (aliases are resolved at connect time). Throws TargetError when malformed.
 *
 * @example
 * ```ts
 * parseTarget("deploy@web-01:2222"); // { host: "web-01", username: "deploy", port: 2222 }
 * parseTarget("[::1]:22"); // { host: "::1", port: 22 }
 * parseTarget("ssh://root@10.0.0.5"); // { host: "10.0.0.5", username: "root" }
 * ```
 */
export function parseTarget(spec: string): Target {
  if (typeof spec !== "string") throw new TargetError("target must be a string");
  const input = spec;
  if (spec.trim() !== spec || spec === "") {
    throw new TargetError(`malformed target ${quote(input)}: empty or surrounded by spaces`);
  }
  // deno-lint-ignore no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(spec)) {
    throw new TargetError(
      `malformed target ${quote(input)}: contains spaces or control characters`,
    );
  }
  let rest = spec;
  if (rest.startsWith("ssh://")) {
    rest = rest.slice(6);
    if (rest.endsWith("/")) rest = rest.slice(0, -1);
  }
  const target: Target = { host: "" };
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    const user = rest.slice(0, at);
    if (user === "") throw new TargetError(`malformed target ${quote(input)}: empty user name`);
    validateUsername(user, input);
    target.username = user;
    rest = rest.slice(at + 1);
  }
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    if (close < 0) throw new TargetError(`malformed target ${quote(input)}: missing "]"`);
    const host = rest.slice(1, close);
    if (!isIpv6(host) && !HOST_RE.test(host)) {
      throw new TargetError(`malformed target ${quote(input)}: invalid address ${quote(host)}`);
    }
    target.host = host;
    const after = rest.slice(close + 1);
    if (after !== "") {
      if (!after.startsWith(":")) {
        throw new TargetError(
          `malformed target ${quote(input)}: unexpected ${quote(after)} after "]"`,
        );
      }
      target.port = parsePort(after.slice(1), input);
    }
    return target;
  }
  if (isIpv6(rest)) {
    target.host = rest;
    return target;
  }
  const colon = rest.indexOf(":");
  if (colon >= 0) {
    target.port = parsePort(rest.slice(colon + 1), input);
    rest = rest.slice(0, colon);
  }
  validateHost(rest, input);
  target.host = rest;
  return target;
}

/** "user@host:port" (with [brackets] around IPv6) for messages. */
export function formatTarget(t: { host: string; port?: number; username?: string }): string {
  const host = t.host.includes(":") ? `[${t.host}]` : t.host;
  return `${t.username ? `${t.username}@` : ""}${host}${t.port ? `:${t.port}` : ""}`;
}
