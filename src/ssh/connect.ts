/**
 * `connectSsh`: resolves a target and opens an SSH connection with the
 * backend it names.
 * @module
 */
import { TargetError } from "../errors.ts";
import type { SshBackend } from "./backend.ts";
import { decoupled } from "./_common.ts";
import { type Credential, type ResolvedTarget, resolveTarget } from "./resolve.ts";
import { connectSsh2 } from "./ssh2_backend.ts";
import { connectSystem } from "./system_backend.ts";
import { parseTarget, type Target } from "./target.ts";

/** Options for {@linkcode connectSsh}. */
export interface SshConnectOptions {
  /** Time for the whole connect (TCP, handshake, host key, auth), per hop. Default 15000 ms. */
  connectTimeoutMs?: number;
  /** Keepalive period in ms; 0 disables. Default 15000. */
  keepaliveIntervalMs?: number;
  /** Unanswered keepalives before the connection counts as dropped. Default 3. */
  keepaliveCountMax?: number;
  /** An ssh config file to read instead of ~/.ssh/config (like `ssh -F`); wins over target.sshConfig. */
  sshConfig?: string;
  /** The OpenSSH client binary (system backend, and `ssh -G`). Default "ssh"; null: never run it. */
  sshBinary?: string | null;
  /** Debug lines (ssh2's debug output, the system backend's commands). */
  debug?: (line: string) => void;
}

const MAX_JUMPS = 8;

/**
 * Opens an SSH connection. `target` is a Target or a "user@host:port" string;
 * an ssh config alias is resolved here. Throws HostKeyError, AuthError,
 * ConnectError, TimeoutError or TargetError.
 */
export async function connectSsh(
  target: Target | string,
  options: SshConnectOptions = {},
): Promise<SshBackend> {
  const t = typeof target === "string" ? parseTarget(target) : target;
  const resolved = await resolveTarget(t, {
    ...(options.sshConfig !== undefined ? { sshConfig: options.sshConfig } : {}),
    ...(options.sshBinary !== undefined ? { sshBinary: options.sshBinary } : {}),
  });
  if (resolved.backend === "system") {
    return await connectSystem(t, resolved, {
      connectTimeoutMs: options.connectTimeoutMs ?? 15_000,
      keepaliveIntervalMs: options.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: options.keepaliveCountMax ?? 3,
      sshBinary: options.sshBinary ?? "ssh",
      ...(options.debug ? { debug: options.debug } : {}),
    });
  }
  return await connectSsh2Chain(t, resolved, options, 0);
}

async function connectSsh2Chain(
  t: Target,
  resolved: ResolvedTarget,
  options: SshConnectOptions,
  depth: number,
  extraCredentials: Credential[] = [],
): Promise<SshBackend> {
  const base = {
    connectTimeoutMs: options.connectTimeoutMs ?? 15_000,
    keepaliveIntervalMs: options.keepaliveIntervalMs ?? 15_000,
    keepaliveCountMax: options.keepaliveCountMax ?? 3,
    ...(options.debug ? { debug: options.debug } : {}),
  };
  if (!resolved.proxyJump || resolved.proxyJump === "none") {
    return await connectSsh2(resolved, base, extraCredentials);
  }
  if (depth >= MAX_JUMPS) throw new TargetError(`ProxyJump chain longer than ${MAX_JUMPS} hops`);
  const hops = resolved.proxyJump.split(",").map((h) => h.trim()).filter((h) => h !== "");
  const last = hops.pop()!;
  const jumpSpec = parseTarget(last.replace(/^ssh:\/\//, ""));
  // The jump host keeps its own config, but is checked like the target and may use its credentials.
  const jumpTarget: Target = {
    ...jumpSpec,
    ...(t.hostKeys ? { hostKeys: t.hostKeys } : {}),
    ...(hops.length ? { proxyJump: hops.join(",") } : {}),
    sshBackend: "ssh2",
    ...(t.sshConfig ? { sshConfig: t.sshConfig } : {}),
  };
  const jumpResolved = await resolveTarget(jumpTarget, {
    ...(options.sshConfig !== undefined ? { sshConfig: options.sshConfig } : {}),
    ...(options.sshBinary !== undefined ? { sshBinary: options.sshBinary } : {}),
  });
  if (!jumpResolved.knownHostsExplicit && resolved.knownHostsExplicit) {
    jumpResolved.knownHosts = resolved.knownHosts;
  }
  const targetCreds = resolved.authExplicit ? resolved.credentials : [];
  const jump = await connectSsh2Chain(jumpTarget, jumpResolved, options, depth + 1, targetCreds);
  let stream;
  try {
    stream = await jump.dial(resolved.host, resolved.port);
  } catch (e) {
    await jump.close();
    throw e;
  }
  try {
    return await connectSsh2(
      resolved,
      { ...base, sock: decoupled(stream), via: jump },
      extraCredentials,
    );
  } catch (e) {
    await jump.close();
    throw e;
  }
}
