import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Encoder } from "cbor-x";
import { ProtocolError } from "../../../src/errors.ts";
import { Codec } from "../../../src/wire/codec.ts";
import { encodeFrame } from "../../../src/wire/frame.ts";
import { Pid } from "../../../src/wire/pid.ts";

// The encoder Codec uses, without the direct path for large byte strings.
const plain = new Encoder({
  useRecords: false,
  structuredClone: false,
  mapsAsObjects: true,
  tagUint8Array: false,
  variableMapSize: true,
});

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

const big = bytes(200_000, 1);
const big2 = bytes(70_000, 2);
const pid = new Pid("app@localhost", 7, 1);
let deep: unknown = { leaf: big };
for (let i = 0; i < 12; i++) deep = [deep];
const wide = Array.from({ length: 100 }, (_, i) => i === 50 ? big : i);

const CASES: [string, unknown][] = [
  ["a large Uint8Array alone", big],
  ["a send control message", [1, pid, big]],
  ["objects and arrays around two", { type: "chunk", data: big, rest: [big2, 3, "x"], n: 1.5 }],
  ["integer-like keys", { 2: big, 1: "a", b: big2 }],
  ["a view with an offset", [big.subarray(3, 100_003)]],
  ["an ArrayBuffer", [big2.slice().buffer]],
  ["a Buffer", [Buffer.from(big2)]],
  ["deeper than the direct path looks", deep],
  ["wider than the direct path looks", wide],
  ["inside a Map and a Set", [new Map([["k", big]]), new Set([big2])]],
  ["a typed array", new Float64Array(big2.buffer.slice(0, 80_000))],
  ["at the threshold and just under it", [bytes(65_536, 3), bytes(65_535, 4)]],
];

for (const [what, value] of CASES) {
  Deno.test(`Codec writes ${what} byte for byte as cbor-x does`, () => {
    const codec = new Codec();
    const expected = new Uint8Array(plain.encode(value));
    assert.deepEqual(codec.encode(value), expected);
    const frame = codec.encodeFrame(value);
    assert.deepEqual(frame, encodeFrame(expected));
    const decoded = codec.decode(frame.subarray(4));
    assert.deepEqual(
      decoded,
      new Codec().decode(encodeFrame(expected).subarray(4)),
    );
  });
}

Deno.test("a large byte string is copied at send: changing it afterwards changes nothing", () => {
  const codec = new Codec();
  const data = bytes(100_000, 5);
  const frame = codec.encodeFrame([1, pid, data]);
  data.fill(0);
  const [, , got] = codec.decode(frame.subarray(4)) as [number, Pid, Uint8Array];
  assert.deepEqual(got, bytes(100_000, 5));
});

Deno.test("a value with a large byte string over maxFrameBytes is refused at the sender", () => {
  const codec = new Codec({ limits: { maxFrameBytes: 150_000 } });
  assert.throws(
    () => codec.encodeFrame([1, pid, big]),
    (e) => e instanceof ProtocolError && /over maxFrameBytes \(150000\)/.test(e.message),
  );
  assert.throws(() => codec.encode(big), ProtocolError);
});

Deno.test("values with large byte strings are still checked: a function next to one is refused", () => {
  assert.throws(
    () => new Codec().encodeFrame([big, () => 1]),
    (e) => e instanceof ProtocolError && /cannot send a function at msg\[1\]/.test(e.message),
  );
});

Deno.test("decode() of an owned large body gives views into it; otherwise copies", () => {
  const codec = new Codec();
  const body = codec.encode([1, pid, big]).slice();
  const owned = codec.decode(body, { owned: true }) as [number, Pid, Uint8Array];
  assert.equal(owned[2].buffer, body.buffer);
  assert.deepEqual(owned[2], big);
  const copied = codec.decode(body) as [number, Pid, Uint8Array];
  assert.notEqual(copied[2].buffer, body.buffer);
  assert.equal(copied[2].byteOffset, 0);
  // A small owned body is copied as before.
  const small = codec.encode([new Uint8Array([1, 2, 3])]).slice();
  const s = codec.decode(small, { owned: true }) as [Uint8Array];
  assert.notEqual(s[0].buffer, small.buffer);
});

Deno.test("an owned large body with a misaligned typed array still decodes it", () => {
  const codec = new Codec();
  const floats = new Float64Array(10_000).map((_, i) => i / 3);
  const body = codec.encode(["x", floats]).slice();
  const [, got] = codec.decode(body, { owned: true }) as [string, Float64Array];
  assert.deepEqual(got, floats);
});
