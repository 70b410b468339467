import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { constantTimeEqual, hmacSha256, sha256 } from "../../../src/dist/_sha256.ts";
import { hmac } from "../../../src/dist/credentials.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("sha256() gives the FIPS 180-4 answers for the standard vectors", () => {
  assert.equal(
    hex(sha256(new Uint8Array(0))),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    hex(sha256(bytes("abc"))),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    hex(sha256(bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
});

Deno.test("hmacSha256() gives the RFC 4231 answers (test cases 1, 2 and 6)", () => {
  assert.equal(
    hex(hmacSha256(new Uint8Array(20).fill(0x0b), bytes("Hi There"))),
    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
  );
  assert.equal(
    hex(hmacSha256(bytes("Jefe"), bytes("what do ya want for nothing?"))),
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  );
  assert.equal(
    hex(
      hmacSha256(
        new Uint8Array(131).fill(0xaa),
        bytes("Test Using Larger Than Block-Size Key - Hash Key First"),
      ),
    ),
    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
  );
});

Deno.test("sha256() and hmacSha256() agree with node:crypto on every length around the block edges", () => {
  for (let len = 0; len < 300; len++) {
    const data = crypto.getRandomValues(new Uint8Array(len));
    const key = crypto.getRandomValues(new Uint8Array((len * 7) % 150));
    assert.equal(hex(sha256(data)), createHash("sha256").update(data).digest("hex"), `len ${len}`);
    assert.equal(
      hex(hmacSha256(key, data)),
      createHmac("sha256", key).update(data).digest("hex"),
      `len ${len}, key ${key.length}`,
    );
  }
});

Deno.test("hmac() is HMAC-SHA256 over the length-prefixed parts", () => {
  const key = bytes("credentials-key");
  const h = createHmac("sha256", key);
  for (const p of ["fusion-ticket-v1", "a@h"]) {
    const b = bytes(p);
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, b.length);
    h.update(len);
    h.update(b);
  }
  assert.equal(hex(hmac(key, "fusion-ticket-v1", "a@h")), h.digest("hex"));
});

Deno.test("constantTimeEqual() compares contents and lengths", () => {
  assert.ok(constantTimeEqual(bytes("abc"), bytes("abc")));
  assert.ok(!constantTimeEqual(bytes("abc"), bytes("abd")));
  assert.ok(!constantTimeEqual(bytes("abc"), bytes("ab")));
  assert.ok(constantTimeEqual(new Uint8Array(0), new Uint8Array(0)));
});
