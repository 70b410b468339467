import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import {
  checkHostKey,
  entryMatches,
  fingerprint,
  keyTypeOf,
  knownHostsName,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
} from "../../../src/ssh/known_hosts.ts";

function blob(type: string, body: string): Uint8Array {
  const t = new TextEncoder().encode(type);
  const b = new TextEncoder().encode(body);
  const out = new Uint8Array(8 + t.length + b.length);
  new DataView(out.buffer).setUint32(0, t.length);
  out.set(t, 4);
  new DataView(out.buffer).setUint32(4 + t.length, b.length);
  out.set(b, 8 + t.length);
  return out;
}
const b64 = (u: Uint8Array) => Buffer.from(u).toString("base64");
const ED = blob("ssh-ed25519", "key-one");
const ED2 = blob("ssh-ed25519", "key-two");
const EC = blob("ecdsa-sha2-nistp256", "ec-key");

function hashed(name: string): string {
  const salt = Buffer.from("0123456789abcdefghij");
  return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
}

Deno.test("knownHostsName() uses [host]:port except on port 22", () => {
  assert.equal(knownHostsName("10.0.0.1", 22), "10.0.0.1");
  assert.equal(knownHostsName("10.0.0.1", 2222), "[10.0.0.1]:2222");
});

Deno.test("parseKnownHosts() skips comments, blanks and malformed lines and keeps markers", () => {
  const entries = parseKnownHosts(
    `# comment\n\nhost1 ssh-ed25519 ${b64(ED)}\nbroken\n@revoked * ssh-ed25519 ${b64(ED2)}\n` +
      `@cert-authority *.example ssh-ed25519 ${b64(ED)}\n@bogus x y z\n`,
    "f",
  );
  assert.equal(entries.length, 3);
  assert.equal(entries[0]!.line, 3);
  assert.equal(entries[1]!.marker, "revoked");
  assert.equal(entries[2]!.marker, "cert-authority");
});

Deno.test("entryMatches() handles lists, wildcards, negation, ports and hashed names", () => {
  assert.ok(entryMatches({ hosts: "a,b,c" }, "b"));
  assert.ok(entryMatches({ hosts: "*.example.com" }, "web.example.com"));
  assert.ok(!entryMatches({ hosts: "*.example.com,!bad.example.com" }, "bad.example.com"));
  assert.ok(entryMatches({ hosts: "[10.0.0.1]:2222" }, "[10.0.0.1]:2222"));
  assert.ok(!entryMatches({ hosts: "10.0.0.1" }, "[10.0.0.1]:2222"));
  assert.ok(entryMatches({ hosts: "web?" }, "web1"));
  assert.ok(entryMatches({ hosts: hashed("[127.0.0.1]:2222") }, "[127.0.0.1]:2222"));
  assert.ok(!entryMatches({ hosts: hashed("[127.0.0.1]:2222") }, "[127.0.0.1]:2223"));
  assert.ok(!entryMatches({ hosts: "|1|garbage" }, "x"));
});

Deno.test("checkHostKey() says known, unknown, changed and revoked", () => {
  const names = ["[h]:2222"];
  const entries = parseKnownHosts(
    `[h]:2222 ssh-ed25519 ${b64(ED)}\n@revoked * ecdsa-sha2-nistp256 ${b64(EC)}\n`,
  );
  assert.equal(checkHostKey(entries, names, ED).status, "known");
  assert.equal(checkHostKey(entries, names, ED2).status, "changed");
  assert.equal(checkHostKey(entries, names, EC).status, "revoked");
  assert.equal(checkHostKey(entries, ["other"], ED2).status, "unknown");
});

Deno.test("checkHostKey() treats a key of another type for a known host as changed", () => {
  const entries = parseKnownHosts(`h ssh-ed25519 ${b64(ED)}\n`);
  assert.equal(checkHostKey(entries, ["h"], EC).status, "changed");
});

Deno.test("preferredHostKeyAlgorithms() puts the types known_hosts holds first", () => {
  const all = ["ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];
  const entries = parseKnownHosts(
    `h ecdsa-sha2-nistp256 ${b64(EC)}\nh ssh-rsa AAAA\nother ssh-ed25519 ${b64(ED)}\n`,
  );
  assert.deepEqual(preferredHostKeyAlgorithms(entries, ["h"], all), [
    "ecdsa-sha2-nistp256",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
    "ssh-ed25519",
  ]);
  assert.deepEqual(preferredHostKeyAlgorithms(entries, ["nobody"], all), all);
});

Deno.test("fingerprint() and keyTypeOf() read a key blob like ssh-keygen does", () => {
  assert.equal(keyTypeOf(ED), "ssh-ed25519");
  assert.match(fingerprint(ED), /^SHA256:[A-Za-z0-9+/]{43}$/);
  assert.equal(fingerprint(ED), fingerprint(b64(ED)));
  assert.equal(keyTypeOf(new Uint8Array([0, 0])), "unknown");
});
