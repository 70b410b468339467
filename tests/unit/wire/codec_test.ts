import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { ProtocolError, RemoteError } from "../../../src/errors.ts";
import {
  ACCEPTED_TAGS,
  assertSendable,
  Codec,
  MAX_BIGINT_BITS,
  Pid,
  Ref,
  TAGS,
} from "../../../src/wire/mod.ts";
import { fromHex, toHex } from "./_hex.ts";

const codec = new Codec();
const roundTrip = (v: unknown, c = codec) => c.decode(c.encode(v));

function refused(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ProtocolError, `expected ProtocolError, got ${e}`);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("encode() and decode() round-trip scalars", () => {
  for (
    const v of [
      0,
      1,
      23,
      24,
      255,
      256,
      65535,
      65536,
      2 ** 32 - 1,
      2 ** 32,
      2 ** 53 - 1,
      -1,
      -24,
      -25,
      -(2 ** 31),
      -(2 ** 32),
      -(2 ** 53),
      1.5,
      -0.1,
      1e300,
      Infinity,
      -Infinity,
      NaN,
      "",
      "text",
      "ünïcødé ✓ 𝄞",
      "x".repeat(100_000),
      true,
      false,
      null,
      undefined,
    ]
  ) {
    assert.deepEqual(roundTrip(v), v, `value ${String(v).slice(0, 20)}`);
  }
});

Deno.test("encode() and decode() round-trip bigints of every size", () => {
  for (
    const v of [
      0n,
      5n,
      -5n,
      2n ** 63n,
      2n ** 64n - 1n,
      -(2n ** 64n),
      2n ** 64n,
      -(2n ** 64n) - 1n,
      2n ** 1000n + 12345n,
      -(3n ** 700n),
    ]
  ) {
    assert.equal(roundTrip(v), v);
  }
});

Deno.test("a 1 MiB bignum decodes (linear time: cbor-x's own reader would take hours)", () => {
  const n = 1024 * 1024;
  const body = new Uint8Array(6 + n).fill(0xff);
  body.set([0xc2, 0x5a, 0x00, 0x10, 0x00, 0x00]);
  assert.equal(codec.decode(body), (1n << BigInt(8 * n)) - 1n);
});

Deno.test("encode() refuses a bigint over MAX_BIGINT_BITS", () => {
  const limit = 1n << BigInt(MAX_BIGINT_BITS);
  assert.equal(roundTrip(limit - 1n), limit - 1n);
  assert.equal(roundTrip(1n - limit), 1n - limit);
  refused(() => codec.encode({ n: limit }), /a bigint of more than 65536 bits at msg\.n$/);
  refused(() => codec.encode(-limit), /a bigint of more than 65536 bits/);
});

Deno.test("encode() and decode() round-trip nested objects, arrays, Map, Set and Date", () => {
  const v = {
    list: [1, "two", [3, [4, { five: 5 }]], null, undefined],
    map: new Map<unknown, unknown>([
      ["a", 1],
      [2, "b"],
      [{ k: 1 }, [1]],
      [null, new Set([1, 2])],
      ["__proto__", "fine inside a Map"],
    ]),
    set: new Set<unknown>(["x", 1, { y: 2 }, new Map([[1, 2]])]),
    when: new Date(Date.UTC(2024, 1, 29, 12, 0, 0, 123)),
    whole: new Date(0),
    before: new Date(-86_400_000.5),
    invalid: new Date(NaN),
    "odd key": { "": 1, "with space": 2, "0": 3 },
    empty: { a: [], b: {}, c: new Map(), d: new Set() },
  };
  assert.deepEqual(roundTrip(v), v);
});

Deno.test("encode() and decode() round-trip typed arrays and byte strings", () => {
  const values = [
    new Uint8Array([0, 1, 255]),
    new Uint8ClampedArray([0, 255]),
    new Uint16Array([1, 65535]),
    new Uint32Array([1, 2 ** 32 - 1]),
    new BigUint64Array([1n, 2n ** 64n - 1n]),
    new Int8Array([-128, 127]),
    new Int16Array([-32768, 32767]),
    new Int32Array([-(2 ** 31), 2 ** 31 - 1]),
    new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]),
    new Float32Array([1.5, -0, NaN]),
    new Float64Array([Math.PI, -Infinity]),
    new Uint8Array(0),
  ];
  for (const v of values) {
    const back = roundTrip(v);
    assert.equal(Object.getPrototypeOf(back), Object.getPrototypeOf(v));
    assert.deepEqual(back, v);
  }
  // Views of part of a buffer send only their part.
  const part = new Uint16Array(new ArrayBuffer(16), 2, 3).fill(7);
  assert.deepEqual(roundTrip(part), new Uint16Array([7, 7, 7]));
  // ArrayBuffer and DataView go as bytes and come back as Uint8Array.
  assert.deepEqual(roundTrip(new Uint8Array([1, 2]).buffer), new Uint8Array([1, 2]));
  assert.deepEqual(roundTrip(new DataView(new Uint8Array([3, 4]).buffer)), new Uint8Array([3, 4]));
});

Deno.test("decoded bytes are copies, never views into the frame", () => {
  const body = codec.encode({ b: new Uint8Array([1, 2, 3]) }).slice();
  const out = codec.decode(body) as { b: Uint8Array };
  body.fill(0);
  assert.deepEqual(out.b, new Uint8Array([1, 2, 3]));
  assert.equal(out.b.buffer.byteLength, 3);
});

Deno.test("decode() of a Buffer gives plain Uint8Arrays and encode() returns a Uint8Array", () => {
  const body = codec.encode({ b: new Uint8Array([9]) });
  assert.equal(body.constructor, Uint8Array);
  const out = codec.decode(Buffer.from(body)) as { b: Uint8Array };
  assert.equal(out.b.constructor, Uint8Array);
});

Deno.test("class instances go as their own enumerable properties", () => {
  class Point {
    x = 1;
    y = 2;
    get sum() {
      return this.x + this.y;
    }
  }
  assert.deepEqual(roundTrip(new Point()), { x: 1, y: 2 });
  assert.deepEqual(roundTrip(Object.assign(Object.create(null), { a: 1 })), { a: 1 });
});

Deno.test("Pid and Ref come back as their classes", () => {
  const pid = new Pid("app@localhost", 42, 3);
  const ref = new Ref("app@localhost", 7, 3);
  const back = roundTrip({ pid, ref, both: [pid, ref] }) as {
    pid: Pid;
    ref: Ref;
    both: [Pid, Ref];
  };
  assert.ok(back.pid instanceof Pid);
  assert.ok(back.ref instanceof Ref);
  assert.ok(back.pid.equals(pid));
  assert.ok(back.ref.equals(ref));
  assert.ok(back.both[0] instanceof Pid && back.both[1] instanceof Ref);
  assert.equal(String(back.pid), String(pid));
});

Deno.test("a Pid with ids beyond 32 bits round-trips", () => {
  const pid = new Pid("a@b", 2 ** 40 + 1, Date.now());
  const back = roundTrip(pid) as Pid;
  assert.ok(back instanceof Pid && back.equals(pid));
});

Deno.test("pids are written under TAGS.pid as [node, id, creation]", () => {
  assert.equal(
    toHex(codec.encode(new Pid("a", 1, 2))),
    toHex(fromHex("d9 9c 41  83 61 61 01 02")),
  );
  assert.equal(TAGS.pid, 0x9c41);
});

Deno.test("an Error comes back as a RemoteError with name, message and stack", () => {
  const e = new TypeError("bad thing");
  const back = roundTrip(e) as RemoteError;
  assert.ok(back instanceof RemoteError);
  assert.equal(back.remoteName, "TypeError");
  assert.equal(back.message, "TypeError: bad thing");
  assert.equal(back.remoteStack, e.stack);
  assert.equal(back.cause, undefined);
});

Deno.test("Error subclasses and causes cross the wire", () => {
  class DeployError extends Error {
    override name = "DeployError";
  }
  const e = new DeployError("failed", { cause: new RangeError("inner", { cause: { code: 7 } }) });
  const back = roundTrip({ e }) as { e: RemoteError };
  assert.equal(back.e.remoteName, "DeployError");
  const inner = back.e.cause as RemoteError;
  assert.ok(inner instanceof RemoteError);
  assert.equal(inner.remoteName, "RangeError");
  assert.deepEqual(inner.cause, { code: 7 });
});

Deno.test("a RemoteError relayed again keeps its remote name, message and stack", () => {
  const first = roundTrip(new SyntaxError("x")) as RemoteError;
  const again = roundTrip(first) as RemoteError;
  assert.equal(again.remoteName, "SyntaxError");
  assert.equal(again.message, "SyntaxError: x");
  assert.equal(again.remoteStack, first.remoteStack);
});

Deno.test("an error with a missing stack or odd name still encodes", () => {
  const e = new Error("m");
  Object.defineProperty(e, "stack", { value: undefined });
  Object.defineProperty(e, "name", { value: 42 });
  const back = roundTrip(e) as RemoteError;
  assert.equal(back.remoteName, "Error");
  assert.equal(back.remoteStack, "");
});

Deno.test("encode() refuses a function and names its path", () => {
  refused(() => codec.encode({ handler: () => 1 }), /^cannot send a function at msg\.handler$/);
  refused(() => codec.encode([1, [2, function f() {}]]), /a function at msg\[1\]\[1\]$/);
  refused(() => codec.encode({ "a b": { c: class {} } }), /a function at msg\["a b"\]\.c$/);
});

Deno.test("encode() refuses a symbol anywhere, also as Map keys and values", () => {
  refused(() => codec.encode(Symbol("s")), /a symbol at msg$/);
  refused(() => codec.encode({ a: [Symbol("s")] }), /a symbol at msg\.a\[0\]$/);
  refused(() => codec.encode(new Map([["k", Symbol("v")]])), /a symbol at msg\.get\("k"\)$/);
  refused(() => codec.encode(new Map([[Symbol("k"), 1]])), /a symbol at msg\.keys\(\)\[0\]$/);
  refused(() => codec.encode(new Set([1, () => 2])), /a function at msg\.values\(\)\[1\]$/);
  refused(
    () => codec.encode(new Error("e", { cause: { f: () => 1 } })),
    /a function at msg\.cause\.f$/,
  );
});

Deno.test("encode() refuses a cycle with a ProtocolError, not a stack overflow", () => {
  const a: Record<string, unknown> = { name: "a" };
  a.self = a;
  refused(() => codec.encode(a), /^cannot send a cycle: msg\.self refers back to msg$/);
  const list: unknown[] = [1];
  const holder = { deep: { list } };
  list.push(holder);
  refused(() => codec.encode(holder), /cycle: msg\.deep\.list\[1\] refers back to msg$/);
  const m = new Map<string, unknown>();
  m.set("me", [m]);
  refused(() => codec.encode({ m }), /cycle: msg\.m\.get\("me"\)\[0\] refers back to msg\.m$/);
  const e = new Error("loop");
  e.cause = e;
  refused(() => codec.encode(e), /cycle: msg\.cause refers back to msg$/);
});

Deno.test("encode() sends a shared (acyclic) object twice", () => {
  const shared = { n: 1 };
  assert.deepEqual(roundTrip([shared, shared]), [{ n: 1 }, { n: 1 }]);
});

Deno.test("encode() refuses a value nested deeper than maxDepth", () => {
  let v: unknown = 0;
  for (let i = 0; i < 257; i++) v = [v];
  refused(() => codec.encode(v), /nested deeper than maxDepth \(256; this needs 257\)/);
  let ok: unknown = 0;
  for (let i = 0; i < 256; i++) ok = [ok];
  assert.deepEqual(roundTrip(ok), ok);
});

Deno.test("encode() refuses 100k nested arrays without a stack overflow", () => {
  let v: unknown = 0;
  for (let i = 0; i < 100_000; i++) v = [v];
  refused(() => codec.encode(v), /nested deeper than maxDepth/);
});

Deno.test("the send-side depth count matches the receive side for every kind", () => {
  const kinds: [string, (inner: unknown) => unknown][] = [
    ["array", (x) => [x]],
    ["object", (x) => ({ x })],
    ["Map value", (x) => new Map([[1, x]])],
    ["Map key", (x) => new Map([[x, 1]])],
    ["Set", (x) => new Set([x])],
    ["Error cause", (x) => new Error("e", { cause: x })],
  ];
  const leaves: [string, unknown][] = [
    ["number", 1],
    ["Date", new Date(0)],
    ["Pid", new Pid("a", 1, 1)],
    ["Float64Array", new Float64Array(1)],
    ["big bigint", 2n ** 70n],
    ["empty array", []],
  ];
  for (const [kind, wrap] of kinds) {
    for (const [leaf, value] of leaves) {
      for (let n = 1; n <= 4; n++) {
        let v = value;
        for (let i = 0; i < n; i++) v = wrap(v);
        // The smallest maxDepth at which encode() accepts must also be where decode() does.
        let need = 0;
        while (true) {
          try {
            new Codec({ limits: { maxDepth: need } }).encode(v);
            break;
          } catch {
            need++;
          }
        }
        const body = codec.encode(v);
        const what = `${leaf} in ${n} x ${kind}, ${need} deep`;
        assert.doesNotThrow(() => new Codec({ limits: { maxDepth: need } }).decode(body), what);
        if (need > 0) {
          assert.throws(
            () => new Codec({ limits: { maxDepth: need - 1 } }).decode(body),
            /maxDepth/,
            what,
          );
        }
      }
    }
  }
});

Deno.test("the send-side item count matches the receive side", () => {
  const v = {
    a: [1, 2, 3],
    m: new Map([[1, 2]]),
    s: new Set([1]),
    e: new Error("x"),
    p: new Pid("a", 1, 1),
  };
  // 5 + 3 + 1 + 1 + 3 (error map) + 3 (pid array)
  const items = 16;
  const body = codec.encode(v);
  new Codec({ limits: { maxItems: items } }).encode(v);
  new Codec({ limits: { maxItems: items } }).decode(body);
  refused(() => new Codec({ limits: { maxItems: items - 1 } }).encode(v), /maxItems/);
  refused(() => new Codec({ limits: { maxItems: items - 1 } }).decode(body), /maxItems/);
});

Deno.test("encode() refuses values that would not come back as themselves", () => {
  refused(() => codec.encode({ r: /x/g }), /a RegExp .* at msg\.r$/);
  refused(() => codec.encode((function* () {})()), /an iterable Generator/);
  refused(() =>
    codec.encode(
      new (class Bag {
        *[Symbol.iterator]() {}
      })(),
    ), /an iterable Bag \(convert it to an Array first\)/);
  refused(() => codec.encode(Promise.resolve(1)), /a Promise \(await it first\)/);
  refused(() => codec.encode(new WeakMap()), /a WeakMap/);
  refused(() => codec.encode(new Blob([])), /a Blob/);
  refused(
    () => codec.encode(JSON.parse('{"a":{"__proto__":{"x":1}}}')),
    /"__proto__" key at msg\.a\.__proto__/,
  );
  refused(() => codec.encode(new Pid("a", -1, 0)), /a malformed Pid/);
  refused(() => codec.encode(new Ref("a", 1.5, 0)), /a malformed Ref/);
});

Deno.test("encode() refuses a value whose encoding exceeds maxFrameBytes", () => {
  const small = new Codec({ limits: { maxFrameBytes: 100 } });
  small.encode("x".repeat(90));
  refused(() => small.encode("x".repeat(100)), /over maxFrameBytes \(100\)/);
  refused(() => small.encodeFrame("x".repeat(100)), /over maxFrameBytes/);
});

Deno.test("encode() turns a throwing getter into a ProtocolError", () => {
  const v = {
    get boom(): number {
      throw new Error("getter failed");
    },
  };
  refused(() => codec.encode(v), /cannot send value: getter failed/);
});

Deno.test("assertSendable() checks without encoding and takes a root name", () => {
  assertSendable({ a: 1 });
  refused(() => assertSendable({ f: () => 1 }, { root: "args" }), /a function at args\.f$/);
  refused(() => assertSendable([[[]]], { limits: { maxDepth: 2 } }), /maxDepth \(2/);
});

Deno.test("encodeFrame() prefixes the body with its u32 big-endian length", () => {
  const frame = codec.encodeFrame({ a: 1 });
  const body = codec.encode({ a: 1 });
  assert.equal(toHex(frame), toHex(fromHex(`0000000${body.length} ${toHex(body)}`)));
});

Deno.test("frames from encodeFrame() stay intact when many are made", () => {
  const frames = Array.from(
    { length: 5000 },
    (_, i) => codec.encodeFrame({ i, s: "x".repeat(i % 50) }),
  );
  frames.forEach((f, i) => {
    const len = new DataView(f.buffer, f.byteOffset, 4).getUint32(0);
    assert.equal(len, f.length - 4);
    assert.deepEqual(codec.decode(f.subarray(4)), { i, s: "x".repeat(i % 50) });
  });
});

Deno.test("decode() refuses what is not a Uint8Array", () => {
  refused(() => codec.decode("text" as unknown as Uint8Array), /not a Uint8Array/);
});

Deno.test("codecs do not share decoder state between connections", () => {
  const a = new Codec();
  const b = new Codec({ limits: { maxDepth: 2 } });
  const body = a.encode([[[1]]]);
  refused(() => b.decode(body), /maxDepth \(2\)/);
  assert.deepEqual(a.decode(body), [[[1]]]);
});

Deno.test("the encoder writes exactly the accepted tag for each kind", () => {
  const cases: [unknown, number | undefined][] = [
    [new Date(0), 1],
    [2n ** 64n, 2],
    [-(2n ** 64n) - 1n, 3],
    [2n ** 63n, undefined], // 64-bit: untagged 1b
    [new Uint8Array(1), undefined], // untagged byte string
    [new Uint8ClampedArray(1), 68],
    [new Uint16Array(1), 69],
    [new Uint32Array(1), 70],
    [new BigUint64Array(1), 71],
    [new Int8Array(1), 72],
    [new Int16Array(1), 77],
    [new Int32Array(1), 78],
    [new BigInt64Array(1), 79],
    [new Float32Array(1), 85],
    [new Float64Array(1), 86],
    [new Set(), 258],
    [new Map(), 259],
    [new Pid("a", 1, 1), TAGS.pid],
    [new Ref("a", 1, 1), TAGS.ref],
    [new RangeError("x"), TAGS.error],
    [new RemoteError({ name: "E", message: "m" }), TAGS.error],
  ];
  for (const [value, tag] of cases) {
    const b = codec.encode(value);
    const major = b[0]! >> 5;
    if (tag === undefined) {
      assert.notEqual(major, 6, `${value} is untagged`);
      continue;
    }
    assert.equal(major, 6, `${value} is tagged`);
    const ai = b[0]! & 31;
    const got = ai < 24 ? ai : ai === 24 ? b[1]! : (b[1]! << 8) | b[2]!;
    assert.equal(got, tag, `${Object.prototype.toString.call(value)}`);
    assert.ok(ACCEPTED_TAGS.has(got));
  }
});
