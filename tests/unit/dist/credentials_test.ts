import assert from "node:assert/strict";
import {
  cookieKey,
  type Credentials,
  hmac,
  macEqual,
  proofKey,
  ticketFor,
} from "../../../src/dist/credentials.ts";

const cookie = new TextEncoder().encode("credentials-test-cookie");

Deno.test("ticketFor() is stable, and differs per name and per cookie", () => {
  const t = ticketFor(cookie, "a@h");
  assert.equal(t.length, 32);
  assert.deepEqual(ticketFor(cookie, "a@h"), t);
  assert.notDeepEqual(ticketFor(cookie, "b@h"), t);
  assert.notDeepEqual(ticketFor(new TextEncoder().encode("other"), "a@h"), t);
});

Deno.test("hmac() keeps part boundaries: moving bytes between parts changes the MAC", () => {
  const k = new Uint8Array(32);
  assert.notDeepEqual(hmac(k, "ab", "c"), hmac(k, "a", "bc"));
  assert.notDeepEqual(hmac(k, "abc"), hmac(k, "abc", ""));
  assert.deepEqual(hmac(k, "x", new TextEncoder().encode("y")), hmac(k, "x", "y"));
});

Deno.test("proofKey(): a cookie holder derives any name's key, a ticket holder only its own", () => {
  const hub: Credentials = { kind: "cookie", cookie };
  const agent: Credentials = { kind: "ticket", name: "a@h", ticket: ticketFor(cookie, "a@h") };
  assert.deepEqual(proofKey(hub, "a@h"), ticketFor(cookie, "a@h"));
  assert.deepEqual(proofKey(agent, "a@h"), ticketFor(cookie, "a@h"));
  assert.equal(proofKey(agent, "b@h"), undefined);
});

Deno.test("cookieKey() exists only for cookie holders and is not the cookie itself", () => {
  const key = cookieKey({ kind: "cookie", cookie });
  assert.ok(key);
  assert.notDeepEqual(key, cookie);
  assert.equal(
    cookieKey({ kind: "ticket", name: "a@h", ticket: ticketFor(cookie, "a@h") }),
    undefined,
  );
});

Deno.test("macEqual() compares bytes, and refuses other lengths and non-bytes", () => {
  const a = new Uint8Array([1, 2, 3]);
  assert.equal(macEqual(a, new Uint8Array([1, 2, 3])), true);
  assert.equal(macEqual(a, new Uint8Array([1, 2, 4])), false);
  assert.equal(macEqual(a, new Uint8Array([1, 2])), false);
  for (const v of [null, undefined, "abc", [1, 2, 3], { 0: 1, 1: 2, 2: 3, length: 3 }]) {
    assert.equal(macEqual(a, v), false);
  }
});
