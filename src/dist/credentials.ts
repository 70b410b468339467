import { constantTimeEqual, hmacSha256 } from "./_sha256.ts";

/**
 * What a node proves itself with: the cluster cookie (a hub, a local node) or a
 * ticket, HMAC(cookie, name), valid for that one name (a remote agent).
 */
export type Credentials =
  | { readonly kind: "cookie"; readonly cookie: Uint8Array }
  | { readonly kind: "ticket"; readonly name: string; readonly ticket: Uint8Array };

const encoder = new TextEncoder();

/** HMAC-SHA256 of the parts, each length-prefixed so that boundaries cannot shift. */
export function hmac(key: Uint8Array, ...parts: (string | Uint8Array)[]): Uint8Array {
  const chunks = parts.map((p) => typeof p === "string" ? encoder.encode(p) : p);
  const msg = new Uint8Array(chunks.reduce((n, c) => n + 4 + c.length, 0));
  const view = new DataView(msg.buffer);
  let off = 0;
  for (const c of chunks) {
    view.setUint32(off, c.length);
    msg.set(c, off + 4);
    off += 4 + c.length;
  }
  return hmacSha256(key, msg);
}

/** The ticket for `name`: lets its holder prove that name, and no other. */
export function ticketFor(cookie: Uint8Array, name: string): Uint8Array {
  return hmac(cookie, "fusion-ticket-v1", name);
}

/**
 * The key that proves `name`: a cookie holder can derive it for any name, a
 * ticket holder only for its own. Undefined when these credentials cannot.
 */
export function proofKey(creds: Credentials, name: string): Uint8Array | undefined {
  if (creds.kind === "cookie") return ticketFor(creds.cookie, name);
  return creds.name === name ? creds.ticket : undefined;
}

/** The key only cookie holders share. */
export function cookieKey(creds: Credentials): Uint8Array | undefined {
  return creds.kind === "cookie" ? hmac(creds.cookie, "fusion-cookie-key-v1") : undefined;
}

/** Compares two MACs in constant time. */
export function macEqual(a: Uint8Array, b: unknown): boolean {
  return b instanceof Uint8Array && a.length === b.length && constantTimeEqual(a, b);
}
