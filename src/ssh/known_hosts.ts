/**
 * known_hosts: parsing (plain, wildcard, negated and hashed `|1|salt|hash`
 * entries, `@revoked`), host key checks, fingerprints, and appending.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, createHmac } from "node:crypto";
import { dirname } from "node:path";
import { ConnectError } from "../errors.ts";

/** One key line of a known_hosts file. */
export interface KnownHostEntry {
  /** "@revoked" and "@cert-authority" lines carry a marker. */
  marker?: "revoked" | "cert-authority";
  /** The host field as written (comma-separated patterns, or one hashed name). */
  hosts: string;
  /** Key type, e.g. "ssh-ed25519". */
  keyType: string;
  /** Base64 key blob. */
  key: string;
  file: string;
  line: number;
}

/** The name a host is stored under: "host" on port 22, else "[host]:port". */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Parses known_hosts text. Malformed lines are skipped, as OpenSSH does. */
export function parseKnownHosts(text: string, file = "known_hosts"): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === "" || raw.startsWith("#")) continue;
    const fields = raw.split(/\s+/);
    let marker: KnownHostEntry["marker"];
    if (fields[0]?.startsWith("@")) {
      const m = fields.shift();
      if (m === "@revoked") marker = "revoked";
      else if (m === "@cert-authority") marker = "cert-authority";
      else continue;
    }
    const [hosts, keyType, key] = fields;
    if (!hosts || !keyType || !key) continue;
    out.push({ ...(marker ? { marker } : {}), hosts, keyType, key, file, line: i + 1 });
  }
  return out;
}

function globToRegExp(pattern: string): RegExp {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`, "i");
}

function hashedMatches(field: string, name: string): boolean {
  const parts = field.split("|");
  if (parts.length !== 4 || parts[1] !== "1") return false;
  const salt = Buffer.from(parts[2]!, "base64");
  const want = parts[3]!;
  const got = createHmac("sha1", salt).update(name).digest("base64");
  return got === want;
}

/** True when the entry's host field matches `name` ("host" or "[host]:port"). */
export function entryMatches(entry: Pick<KnownHostEntry, "hosts">, name: string): boolean {
  if (entry.hosts.startsWith("|")) return hashedMatches(entry.hosts, name);
  let matched = false;
  for (const pat of entry.hosts.split(",")) {
    if (pat === "") continue;
    const negated = pat.startsWith("!");
    const p = negated ? pat.slice(1) : pat;
    if (globToRegExp(p).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** Result of reading known_hosts files. */
export interface KnownHosts {
  entries: KnownHostEntry[];
  /** The files that were read. */
  files: string[];
  /** Files that do not exist (fine: treated as empty). */
  missing: string[];
}

/** Reads known_hosts files. A missing file is empty; an unreadable one throws ConnectError. */
export async function loadKnownHosts(paths: string[]): Promise<KnownHosts> {
  const result: KnownHosts = { entries: [], files: [], missing: [] };
  for (const path of paths) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        result.missing.push(path);
        continue;
      }
      throw new ConnectError(
        `cannot read known_hosts file ${path}: ${(e as Error).message.split("\n")[0]}`,
        { cause: e },
      );
    }
    result.files.push(path);
    result.entries.push(...parseKnownHosts(text, path));
  }
  return result;
}

/** "SHA256:..." fingerprint of a key blob, as `ssh-keygen -l` prints it. */
export function fingerprint(blob: Uint8Array | string): string {
  const buf = typeof blob === "string" ? Buffer.from(blob, "base64") : Buffer.from(blob);
  return "SHA256:" + createHash("sha256").update(buf).digest("base64").replace(/=+$/, "");
}

/** The key type string at the start of an SSH public key blob. */
export function keyTypeOf(blob: Uint8Array): string {
  if (blob.length < 4) return "unknown";
  const len = (blob[0]! << 24 | blob[1]! << 16 | blob[2]! << 8 | blob[3]!) >>> 0;
  if (len > blob.length - 4 || len > 64) return "unknown";
  return new TextDecoder().decode(blob.subarray(4, 4 + len));
}

/** A short name for a key type: "ED25519", "ECDSA", "RSA". */
export function keyTypeLabel(keyType: string): string {
  if (keyType === "ssh-ed25519") return "ED25519";
  if (keyType.startsWith("ecdsa-")) return "ECDSA";
  if (keyType === "ssh-rsa") return "RSA";
  if (keyType === "ssh-dss") return "DSA";
  return keyType;
}

/** What known_hosts says about a key a server offered. */
export type HostKeyVerdict =
  | { status: "known"; entry: KnownHostEntry }
  | { status: "unknown" }
  | { status: "changed"; known: KnownHostEntry[] }
  | { status: "revoked"; entry: KnownHostEntry };

/**
 * Checks a server's key blob against entries for `names` (the first is the
 * host's own name). "changed" means the host has entries but none holds this
 * key: a key of the same type that differs, or only keys of other types (the
 * client asks for known types first, so a server offering another type has
 * lost the known ones).
 */
export function checkHostKey(
  entries: KnownHostEntry[],
  names: string[],
  blob: Uint8Array,
): HostKeyVerdict {
  const b64 = Buffer.from(blob).toString("base64");
  const mine = entries.filter((e) =>
    e.marker !== "cert-authority" && names.some((n) => entryMatches(e, n))
  );
  const revoked = entries.find((e) => e.marker === "revoked" && e.key === b64);
  if (revoked) return { status: "revoked", entry: revoked };
  const hit = mine.find((e) => !e.marker && e.key === b64);
  if (hit) return { status: "known", entry: hit };
  const known = mine.filter((e) => !e.marker);
  if (known.length === 0) return { status: "unknown" };
  return { status: "changed", known };
}

/** Host key algorithm names that a known_hosts key type stands for, best first. */
export function algorithmsForKeyType(keyType: string): string[] {
  if (keyType === "ssh-rsa") return ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];
  return [keyType];
}

/**
 * The server host key algorithms to offer: the ones known_hosts holds for the
 * host first (so a server with several keys shows a known one), then `all`.
 */
export function preferredHostKeyAlgorithms(
  entries: KnownHostEntry[],
  names: string[],
  all: readonly string[],
): string[] {
  const first: string[] = [];
  for (const e of entries) {
    if (e.marker || !names.some((n) => entryMatches(e, n))) continue;
    for (const alg of algorithmsForKeyType(e.keyType)) {
      if (all.includes(alg) && !first.includes(alg)) first.push(alg);
    }
  }
  return [...first, ...all.filter((a) => !first.includes(a))];
}

/** Appends "name keytype base64" to a known_hosts file, creating it (0600, dir 0700). */
export async function appendKnownHost(path: string, name: string, blob: Uint8Array): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let prefix = "";
  try {
    const text = await Deno.readTextFile(path);
    if (text.length > 0 && !text.endsWith("\n")) prefix = "\n";
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new ConnectError(`cannot update known_hosts file ${path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
  const line = `${prefix}${name} ${keyTypeOf(blob)} ${Buffer.from(blob).toString("base64")}\n`;
  try {
    await Deno.writeTextFile(path, line, { append: true, create: true, mode: 0o600 });
  } catch (e) {
    throw new ConnectError(`cannot update known_hosts file ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}
