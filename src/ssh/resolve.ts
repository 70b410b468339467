/**
 * Turns a Target (maybe an ssh config alias) into everything a backend needs:
 * real host, port, user, known_hosts files and the credentials to try.
 * @module
 */
import { AuthError, TargetError } from "../errors.ts";
import { expandHome, homeDir, localUser } from "./_paths.ts";
import { resolveSshConfig, type SshConfigHost } from "./ssh_config.ts";
import {
  type HostKeyPolicy,
  parseTarget,
  type SshBackendKind,
  type Target,
  validateHost,
  validatePort,
  validateUsername,
} from "./target.ts";

/** One credential to offer, in order. */
export type Credential =
  | { type: "key"; path: string; passphrase?: string; explicit: boolean }
  | { type: "password"; password: string }
  | { type: "agent"; socket: string };

/** A Target with its ssh config applied and defaults filled in. */
export interface ResolvedTarget {
  /** The host as given (maybe an alias). */
  alias: string;
  /** The host to dial (HostName). */
  host: string;
  port: number;
  username: string;
  policy: HostKeyPolicy;
  /** known_hosts files, `~` expanded; accept-new appends to the first. */
  knownHosts: string[];
  /** True when the files came from the target (then a missing one is worth saying). */
  knownHostsExplicit: boolean;
  /** Credentials in the order they are offered. */
  credentials: Credential[];
  /** True when the target named its auth (else defaults were used). */
  authExplicit: boolean;
  /** The jump host chain, as written (comma-separated). */
  proxyJump?: string;
  backend: SshBackendKind;
  /** ssh config file given explicitly. */
  configFile?: string;
  /** The config's identity files (for the system backend, which reads the config itself). */
  configIdentityFiles?: string[];
}

/** Options for {@linkcode resolveTarget}. */
export interface ResolveTargetOptions {
  /** Config file to read instead of ~/.ssh/config (like `ssh -F`). */
  sshConfig?: string;
  /** The ssh binary for `ssh -G`; null forces the built-in parser. */
  sshBinary?: string | null;
  /** Environment lookups (default Deno.env.get). */
  env?: (name: string) => string | undefined;
}

const DEFAULT_KEYS = ["id_ed25519", "id_ecdsa", "id_rsa"];

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Resolves a target (a Target or a "user@host:port" string) at connect time. */
export async function resolveTarget(
  input: Target | string,
  options: ResolveTargetOptions = {},
): Promise<ResolvedTarget> {
  const target = typeof input === "string" ? parseTarget(input) : input;
  if (!target || typeof target.host !== "string") throw new TargetError("target needs a host");
  validateHost(target.host);
  if (target.port !== undefined) validatePort(target.port);
  if (target.username !== undefined) validateUsername(target.username);
  const env = options.env ?? ((n: string) => Deno.env.get(n));
  const configFile = options.sshConfig ?? target.sshConfig;
  const cfg: SshConfigHost = await resolveSshConfig(target.host, {
    ...(configFile !== undefined ? { configFile } : {}),
    ...(options.sshBinary !== undefined ? { sshBinary: options.sshBinary } : {}),
  });
  const host = cfg.hostName ?? target.host;
  validateHost(host);
  const port = target.port ?? cfg.port ?? 22;
  validatePort(port);
  const username = target.username ?? cfg.user ?? localUser();
  validateUsername(username);
  const backend = target.sshBackend ?? "ssh2";
  if (backend !== "ssh2" && backend !== "system") {
    throw new TargetError(`unknown sshBackend "${backend}" (use "ssh2" or "system")`);
  }
  const policy = target.hostKeys?.policy ?? "strict";
  if (!["strict", "accept-new", "insecure"].includes(policy)) {
    throw new TargetError(`unknown host key policy "${policy}" (strict, accept-new or insecure)`);
  }
  const given = target.hostKeys?.knownHosts;
  const knownHostsExplicit = given !== undefined;
  const knownHosts =
    (given === undefined
      ? cfg.userKnownHostsFiles ?? [`${homeDir()}/.ssh/known_hosts`]
      : Array.isArray(given)
      ? given
      : [given]).map(expandHome);
  if (knownHosts.length === 0) throw new TargetError("hostKeys.knownHosts is an empty list");

  const credentials: Credential[] = [];
  const auth = target.auth;
  if (auth !== undefined) {
    if ("key" in auth) {
      credentials.push({
        type: "key",
        path: expandHome(auth.key),
        explicit: true,
        ...(auth.passphrase !== undefined ? { passphrase: auth.passphrase } : {}),
      });
    } else if ("password" in auth) {
      credentials.push({ type: "password", password: auth.password });
    } else if ("agent" in auth) {
      const socket = auth.agent === true ? cfg.identityAgent ?? env("SSH_AUTH_SOCK") : auth.agent;
      if (!socket) {
        throw new AuthError(
          `agent authentication asked for ${username}@${host}, but SSH_AUTH_SOCK is not set`,
        );
      }
      credentials.push({ type: "agent", socket: expandHome(socket) });
    } else {
      throw new TargetError("auth must be { key }, { password } or { agent }");
    }
  } else {
    const socket = cfg.identityAgent ?? env("SSH_AUTH_SOCK");
    if (socket) credentials.push({ type: "agent", socket });
    const files = cfg.identityFiles ?? DEFAULT_KEYS.map((k) => `${homeDir()}/.ssh/${k}`);
    for (const path of files) {
      if (await exists(path)) credentials.push({ type: "key", path, explicit: false });
    }
  }
  const proxyJump = target.proxyJump ?? cfg.proxyJump;
  return {
    alias: target.host,
    host,
    port,
    username,
    policy,
    knownHosts,
    knownHostsExplicit,
    credentials,
    authExplicit: auth !== undefined,
    backend,
    ...(proxyJump !== undefined ? { proxyJump } : {}),
    ...(configFile !== undefined ? { configFile: expandHome(configFile) } : {}),
    ...(cfg.identityFiles ? { configIdentityFiles: cfg.identityFiles } : {}),
  };
}

/** "user@host:port" of a resolved target, for messages. */
export function describe(t: Pick<ResolvedTarget, "username" | "host" | "port">): string {
  const host = t.host.includes(":") ? `[${t.host}]` : t.host;
  return `${t.username}@${host}:${t.port}`;
}
