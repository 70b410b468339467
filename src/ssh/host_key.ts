/**
 * Host key policy: decides on a key a server offered, appends under
 * accept-new, and words the HostKeyError a user can act on.
 * @module
 */
import { HostKeyError } from "../errors.ts";
import {
  appendKnownHost,
  checkHostKey,
  fingerprint,
  keyTypeLabel,
  keyTypeOf,
  type KnownHostEntry,
  knownHostsName,
  loadKnownHosts,
  preferredHostKeyAlgorithms,
} from "./known_hosts.ts";
import type { HostKeyPolicy } from "./target.ts";

/** What a HostKeyError is about, attached to it as `details`. */
export interface HostKeyErrorDetails {
  reason: "unknown" | "changed" | "revoked";
  /** "[host]:port" or "host". */
  host: string;
  /** The offered key's fingerprint, "SHA256:...". */
  fingerprint: string;
  keyType: string;
  knownHostsFiles: string[];
}

/** The `details` of a HostKeyError thrown by the ssh layer, if any. */
export function hostKeyErrorDetails(e: unknown): HostKeyErrorDetails | undefined {
  return e instanceof HostKeyError
    ? (e as HostKeyError & { details?: HostKeyErrorDetails }).details
    : undefined;
}

function makeError(message: string, details: HostKeyErrorDetails): HostKeyError {
  return Object.assign(new HostKeyError(message), { details });
}

/** A ready-to-run host key check for one host. */
export interface HostKeyCheck {
  /** Names looked up in known_hosts. */
  readonly names: string[];
  /** Server host key algorithms to offer, known ones first. */
  readonly algorithms: string[];
  /** Resolves when the key is acceptable under the policy; rejects with HostKeyError. */
  verify(blob: Uint8Array): Promise<void>;
}

/** Options for {@linkcode prepareHostKeyCheck}. */
export interface PrepareHostKeyCheckOptions {
  policy: HostKeyPolicy;
  knownHosts: string[];
  knownHostsExplicit: boolean;
  /** Every host key algorithm the client supports, in its default order. */
  supportedAlgorithms: readonly string[];
}

function fixHint(host: string, port: number): string {
  const scan = `ssh-keyscan${port === 22 ? "" : ` -p ${port}`} ${host}`;
  return `${scan} prints the server's keys`;
}

/** Reads known_hosts and returns the check for host:port. */
export async function prepareHostKeyCheck(
  host: string,
  port: number,
  options: PrepareHostKeyCheckOptions,
): Promise<HostKeyCheck> {
  const name = knownHostsName(host, port);
  const names = [name];
  if (options.policy === "insecure") {
    return { names, algorithms: [...options.supportedAlgorithms], verify: () => Promise.resolve() };
  }
  const kh = await loadKnownHosts(options.knownHosts);
  const entries: KnownHostEntry[] = kh.entries;
  const algorithms = preferredHostKeyAlgorithms(entries, names, options.supportedAlgorithms);
  const files = options.knownHosts.join(", ");
  return {
    names,
    algorithms,
    async verify(blob) {
      const keyType = keyTypeOf(blob);
      const fp = fingerprint(blob);
      const label = keyTypeLabel(keyType);
      const verdict = checkHostKey(entries, names, blob);
      switch (verdict.status) {
        case "known":
          return;
        case "revoked":
          throw makeError(
            `host key for ${name} (${label} ${fp}) is marked @revoked in ` +
              `${verdict.entry.file}:${verdict.entry.line}; refusing to connect`,
            {
              reason: "revoked",
              host: name,
              fingerprint: fp,
              keyType,
              knownHostsFiles: options.knownHosts,
            },
          );
        case "changed": {
          const old = verdict.known.map((e) =>
            `${keyTypeLabel(e.keyType)} ${fingerprint(e.key)} (${e.file}:${e.line})`
          ).join(", ");
          const file = verdict.known[0]!.file;
          throw makeError(
            `HOST KEY CHANGED for ${name}: the server offered ${label} ${fp}, but known_hosts holds ` +
              `${old}. Someone may be intercepting the connection, or the server was reinstalled. ` +
              `If the change is expected, remove the old key with: ssh-keygen -R '${name}' -f ${file}` +
              ` (then connect with hostKeys.policy "accept-new")`,
            {
              reason: "changed",
              host: name,
              fingerprint: fp,
              keyType,
              knownHostsFiles: options.knownHosts,
            },
          );
        }
        case "unknown": {
          if (options.policy === "accept-new") {
            await appendKnownHost(options.knownHosts[0]!, name, blob);
            return;
          }
          const missing = kh.missing.length && options.knownHostsExplicit
            ? ` (${kh.missing.join(", ")} does not exist)`
            : "";
          throw makeError(
            `unknown host key for ${name}: the server offered ${label} ${fp}, and no entry in ` +
              `${files}${missing} matches this host. If the fingerprint is right, add the key to ` +
              `${options.knownHosts[0]} (${fixHint(host, port)}) or connect once with ` +
              `hostKeys.policy "accept-new"`,
            {
              reason: "unknown",
              host: name,
              fingerprint: fp,
              keyType,
              knownHostsFiles: options.knownHosts,
            },
          );
        }
      }
    },
  };
}
