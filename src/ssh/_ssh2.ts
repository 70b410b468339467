/** Typed access to the parts of npm:ssh2 this layer uses (the package ships no types). */
import { ssh2 } from "./ssh2_module.ts";
import type { EventEmitter } from "node:events";
import type { Duplex, Readable } from "node:stream";

/** An ssh2 channel: stdout as the readable side, stdin as the writable side. */
export interface Ssh2Channel extends Duplex {
  stderr: Readable;
  close(): void;
  signal(name: string): boolean;
}

/** Next authentication attempt handed to ssh2's authHandler callback. */
export type Ssh2AuthAttempt =
  | { type: "publickey"; username: string; key: Uint8Array; passphrase?: string }
  | { type: "password"; username: string; password: string }
  | { type: "agent"; username: string; agent: string }
  | { type: "none"; username: string }
  | false;

/** What ssh2's connect() takes (the parts used here). */
export interface Ssh2ConnectConfig {
  sock: Duplex;
  username: string;
  hostVerifier: (key: Uint8Array, verify: (ok: boolean) => void) => boolean | undefined;
  authHandler: (
    methodsLeft: string[] | null,
    partialSuccess: boolean | null,
    next: (attempt: Ssh2AuthAttempt) => void,
  ) => Ssh2AuthAttempt | undefined;
  algorithms: { serverHostKey?: string[]; cipher?: string[] };
  keepaliveInterval: number;
  keepaliveCountMax: number;
  readyTimeout: number;
  debug?: (line: string) => void;
}

/** An ssh2 client connection. */
export interface Ssh2Client extends EventEmitter {
  connect(config: Ssh2ConnectConfig): this;
  exec(command: string, cb: (err: Error | undefined, channel: Ssh2Channel) => void): boolean;
  forwardIn(addr: string, port: number, cb: (err: Error | undefined, port: number) => void): this;
  unforwardIn(addr: string, port: number, cb: (err: Error | undefined) => void): this;
  forwardOut(
    srcIp: string,
    srcPort: number,
    dstIp: string,
    dstPort: number,
    cb: (err: Error | undefined, channel: Ssh2Channel) => void,
  ): this;
  end(): this;
  destroy(): this;
}

/** A parsed key, or the Error ssh2 gave. */
export interface Ssh2ParsedKey {
  type: string;
  isPrivateKey(): boolean;
}

const mod = ((ssh2 as unknown as { default?: unknown }).default ?? ssh2) as {
  Client: new () => Ssh2Client;
  utils: { parseKey(data: Uint8Array | string, passphrase?: string): Ssh2ParsedKey | Error };
};

/** Creates an ssh2 client. */
export function newSsh2Client(): Ssh2Client {
  return new mod.Client();
}

/** Parses a private key (ssh2's utils.parseKey). */
export function parseSsh2Key(data: Uint8Array, passphrase?: string): Ssh2ParsedKey | Error {
  const res = mod.utils.parseKey(data, passphrase);
  return Array.isArray(res) ? res[0] as Ssh2ParsedKey : res;
}

/** Host key algorithms ssh2 supports, in its default order (ed25519 first). */
export const SSH2_HOST_KEY_ALGORITHMS: readonly string[] = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];

/**
 * Ciphers, chacha20-poly1305 first: through ssh2 in Deno it costs the hub ~6 ms of
 * CPU per MiB against ~10 for AES-GCM (measured back to back). Its per-packet
 * ciphers are finalized by ssh2_module.ts (without that, each packet leaked
 * ~0.5 KB of native memory).
 */
export const SSH2_CIPHERS: readonly string[] = [
  "chacha20-poly1305@openssh.com",
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
  "aes128-ctr",
  "aes192-ctr",
  "aes256-ctr",
];
