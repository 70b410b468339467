/**
 * Key helpers for test hosts: ssh-keygen wrappers, fingerprints and
 * known_hosts lines (plain and hashed), computed independently of src/ssh.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { run } from "./_proc.ts";

/** Key types the harness can make. */
export type KeyType = "ed25519" | "ecdsa" | "rsa";

/** A key pair on disk. */
export interface KeyPair {
  type: KeyType;
  /** Private key file. */
  path: string;
  /** Public key line: "ssh-ed25519 AAAA... comment". */
  publicKey: string;
  /** "SHA256:..." as ssh-keygen -l shows it. */
  fingerprint: string;
}

/** Options for {@linkcode generateKey}. */
export interface GenerateKeyOptions {
  passphrase?: string;
  comment?: string;
}

/** Makes a key pair with ssh-keygen at `path` (and `path.pub`). */
export async function generateKey(
  path: string,
  type: KeyType,
  options: GenerateKeyOptions = {},
): Promise<KeyPair> {
  const args = [
    "-q",
    "-t",
    type,
    "-N",
    options.passphrase ?? "",
    "-C",
    options.comment ?? "fusion-test",
    "-f",
    path,
  ];
  if (type === "rsa") args.push("-b", "2048");
  await run("ssh-keygen", args);
  await Deno.chmod(path, 0o600);
  const publicKey = (await Deno.readTextFile(`${path}.pub`)).trim();
  return { type, path, publicKey, fingerprint: fingerprintOf(publicKey) };
}

/** SHA256 fingerprint of a public key line, like `ssh-keygen -l`. */
export function fingerprintOf(publicKeyLine: string): string {
  const blob = Buffer.from(publicKeyLine.split(/\s+/)[1] ?? "", "base64");
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/** The host field of a known_hosts line: "host" on port 22, else "[host]:port". */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** A hashed host field `|1|salt|hash` as `ssh-keygen -H` writes it. */
export function hashHostName(name: string, salt: Uint8Array = randomBytes(20)): string {
  const mac = createHmac("sha1", salt).update(name).digest();
  return `|1|${Buffer.from(salt).toString("base64")}|${mac.toString("base64")}`;
}

/** Options for {@linkcode knownHostsText}. */
export interface KnownHostsTextOptions {
  hashed?: boolean;
}

/** known_hosts text holding `keys` for host:port. */
export function knownHostsText(
  host: string,
  port: number,
  publicKeys: string[],
  options: KnownHostsTextOptions = {},
): string {
  const name = knownHostsName(host, port);
  return publicKeys.map((k) => {
    const [type, blob] = k.split(/\s+/);
    return `${options.hashed ? hashHostName(name) : name} ${type} ${blob}\n`;
  }).join("");
}
