// Fuzz of the frame decoder: FrameReader splitting a byte stream, then Codec.decode on each
// body, as a connection does after its handshake. 100,000 seeded inputs; the only error
// either may raise is ProtocolError (tests/unit/wire/fuzz_test.ts runs a smaller, different mix).
import assert from "node:assert/strict";
import { encodeControl, OP } from "../../src/dist/control.ts";
import { ProtocolError } from "../../src/errors.ts";
import { Codec, FrameReader, Pid, Ref } from "../../src/wire/mod.ts";
import {
  chunksOf,
  concatBytes,
  describe,
  frameOf,
  mutate,
  randomCbor,
  randomValue,
  Rng,
  Tally,
} from "../support/fuzz.ts";

const INPUTS = 100_000;
const SEED = 0x5eed_0007;
const MAX_FRAME = 64 * 1024;

/** Encodings of values the wire really carries: control messages, handshake frames, data. */
function seedBodies(rng: Rng, codec: Codec, n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const a = new Pid("a@localhost", 3, 77);
  const b = new Pid("b@localhost", 9, 78);
  const ref = new Ref("a@localhost", 1, 77);
  const fixed: unknown[] = [
    encodeControl({ op: OP.SEND, to: b, msg: { hello: [1, 2, 3] } }),
    encodeControl({ op: OP.SEND_NAMED, name: "logger", node: "b@localhost", msg: "x" }),
    encodeControl({ op: OP.LINK, from: a, to: b }),
    encodeControl({ op: OP.EXIT, from: a, to: b, reason: { error: { name: "E", message: "m" } } }),
    encodeControl({ op: OP.MONITOR, from: a, to: ["svc", "b@localhost"], ref }),
    encodeControl({ op: OP.DOWN, from: b, to: a, ref, reason: "noconnection" }),
    encodeControl({
      op: OP.REQUEST,
      from: a,
      node: "b@localhost",
      ref,
      kind: "run",
      payload: { hash: "ab", fn: "f", args: [1n, new Date(0), new Uint8Array(3)] },
    }),
    encodeControl({ op: OP.REPLY, node: "a@localhost", ref, ok: false, value: new Error("no") }),
    ["hello", [1], "a@localhost", new Uint8Array(32), "cookie", 77, "b@localhost"],
    ["proof", new Uint8Array(32)],
    ["register", "a@localhost", 4000],
    [new Map<unknown, unknown>([[1, new Set([2])]]), new Float64Array([1.5]), 2n ** 100n],
  ];
  for (const v of fixed) out.push(codec.encode(v).slice());
  while (out.length < n) {
    try {
      out.push(codec.encode(randomValue(rng)).slice());
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
    }
  }
  return out;
}

Deno.test(`fuzz: ${INPUTS.toLocaleString("en")} byte streams through FrameReader and Codec.decode raise only ProtocolError`, () => {
  const rng = new Rng(SEED);
  const codec = new Codec({ limits: { maxFrameBytes: MAX_FRAME } });
  const seeds = seedBodies(rng, codec, 600);
  const tally = new Tally();
  const stats = { frames: 0, prescanGaps: 0, notResendable: 0, oversize: 0 };
  const protoKeys = Object.getOwnPropertyNames(Object.prototype).length;

  const body = (): Uint8Array => {
    switch (rng.int(5)) {
      case 0:
      case 1:
        return mutate(rng, rng.pick(seeds));
      case 2: {
        const c = new Uint8Array(randomCbor(rng));
        return rng.chance(0.5) ? c : mutate(rng, c);
      }
      case 3:
        return rng.bytes(rng.int(48));
      default:
        return rng.pick(seeds);
    }
  };

  for (let i = 0; i < INPUTS; i++) {
    tally.inputs++;
    let stream: Uint8Array;
    const kind = rng.int(10);
    if (kind < 6) stream = frameOf(body());
    else if (kind < 9) {
      // Several frames, ticks between them, now and then a lying length prefix.
      const parts: Uint8Array[] = [];
      for (let n = 2 + rng.int(4); n > 0; n--) {
        if (rng.chance(0.2)) parts.push(new Uint8Array(4));
        const b = body();
        parts.push(rng.chance(0.1) ? frameOf(b, b.length + rng.int(9) - 4) : frameOf(b));
      }
      stream = concatBytes(parts);
    } else {
      // Raw bytes, no framing: random lengths up to 4 GiB.
      stream = rng.bytes(1 + rng.int(40));
    }
    const reader = new FrameReader({ maxFrameBytes: MAX_FRAME });
    let broken = false;
    let accepted = 0;
    const onFrame = (b: Uint8Array) => {
      stats.frames++;
      if (b.length === 0) return;
      let value: unknown;
      try {
        value = codec.decode(b);
      } catch (e) {
        if (!(e instanceof ProtocolError)) {
          tally.crash(`input ${i}: decode threw ${describe(e)}`);
        } else if (e.message.startsWith("cannot decode frame")) {
          stats.prescanGaps++;
          tally.crash(`input ${i}: the pre-scan let through what cbor-x refused: ${e.message}`);
        }
        // A connection closes at its first bad frame: nothing behind it is read.
        broken = true;
        throw e;
      }
      accepted++;
      try {
        codec.decode(codec.encode(value));
      } catch (e) {
        if (e instanceof ProtocolError) stats.notResendable++;
        else tally.crash(`input ${i}: re-encoding a decoded value threw ${describe(e)}`);
      }
    };
    try {
      for (const chunk of chunksOf(rng, stream)) reader.push(chunk, onFrame);
    } catch (e) {
      if (!(e instanceof ProtocolError)) tally.crash(`input ${i}: push threw ${describe(e)}`);
      else if (!broken) stats.oversize++;
      broken = true;
    }
    if (broken) tally.refused++;
    else if (accepted > 0) tally.accepted++;
  }
  console.log(`wire fuzz: ${tally}; ${JSON.stringify(stats)}`);
  assert.deepEqual(tally.crashes, [], `crashes: ${tally.crashCount}`);
  assert.equal(tally.crashCount, 0);
  assert.equal(tally.inputs, INPUTS);
  assert.ok(tally.accepted > INPUTS / 10, `only ${tally.accepted} streams decoded fully`);
  assert.ok(tally.refused > INPUTS / 4, `only ${tally.refused} streams refused`);
  assert.ok(stats.oversize > 100, "length prefixes over the limit were exercised");
  assert.equal(Object.getOwnPropertyNames(Object.prototype).length, protoKeys);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});
