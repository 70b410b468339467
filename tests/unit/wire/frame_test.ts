import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { ProtocolError } from "../../../src/errors.ts";
import { Codec, encodeFrame, FrameReader, TICK_FRAME } from "../../../src/wire/mod.ts";
import { fromHex, toHex } from "./_hex.ts";

function collect(reader: FrameReader, chunks: Uint8Array[]): string[] {
  const out: string[] = [];
  for (const c of chunks) reader.push(c, (b) => out.push(toHex(b)));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

Deno.test("encodeFrame() writes a u32 big-endian length before the body", () => {
  assert.equal(toHex(encodeFrame(fromHex("01 02 03"))), "00 00 00 03 01 02 03");
  assert.equal(toHex(encodeFrame(new Uint8Array(0))), "00 00 00 00");
  const big = encodeFrame(new Uint8Array(0x012345));
  assert.equal(toHex(big.subarray(0, 4)), "00 01 23 45");
});

Deno.test("TICK_FRAME is a frame of length 0 and reads as an empty body", () => {
  assert.equal(toHex(TICK_FRAME), "00 00 00 00");
  assert.deepEqual(collect(new FrameReader(), [TICK_FRAME]), [""]);
});

Deno.test("FrameReader hands over several frames from one chunk in order", () => {
  const chunk = concat([encodeFrame(fromHex("aa")), TICK_FRAME, encodeFrame(fromHex("bb cc"))]);
  assert.deepEqual(collect(new FrameReader(), [chunk]), ["aa", "", "bb cc"]);
});

Deno.test("FrameReader reassembles frames split at every byte boundary", () => {
  const frames = [
    fromHex("01"),
    new Uint8Array(0),
    fromHex("02 03 04 05 06"),
    new Uint8Array(300).fill(7),
  ];
  const stream = concat(frames.map((f) => encodeFrame(f)));
  const want = frames.map((f) => toHex(f));
  for (let cut = 0; cut <= stream.length; cut++) {
    const got = collect(new FrameReader(), [stream.subarray(0, cut), stream.subarray(cut)]);
    assert.deepEqual(got, want, `cut at ${cut}`);
  }
  // One byte at a time.
  const bytes = Array.from(stream, (b) => new Uint8Array([b]));
  assert.deepEqual(collect(new FrameReader(), bytes), want);
});

Deno.test("FrameReader keeps its partial data when the caller reuses the chunk buffer", () => {
  const stream = encodeFrame(fromHex("01 02 03 04 05 06 07 08"));
  const reused = new Uint8Array(5);
  const reader = new FrameReader();
  const got: string[] = [];
  for (let o = 0; o < stream.length; o += 5) {
    const n = Math.min(5, stream.length - o);
    reused.set(stream.subarray(o, o + n));
    reader.push(reused.subarray(0, n), (b) => got.push(toHex(b)));
    reused.fill(0xee);
  }
  assert.deepEqual(got, ["01 02 03 04 05 06 07 08"]);
});

Deno.test("FrameReader refuses a length over maxFrameBytes before allocating", () => {
  const reader = new FrameReader({ maxFrameBytes: 10 });
  assert.deepEqual(collect(reader, [encodeFrame(new Uint8Array(10))]).length, 1);
  assert.throws(
    () => reader.push(fromHex("00 00 00 0b"), () => assert.fail("no frame")),
    (e: unknown) =>
      e instanceof ProtocolError && /11 bytes exceeds maxFrameBytes \(10\)/.test(e.message),
  );
  assert.equal(reader.buffered, 0);
  // The stream is broken from there on.
  assert.throws(() => reader.push(TICK_FRAME, () => {}), ProtocolError);
});

Deno.test("FrameReader refuses a 4 GiB length prefix with no allocation", () => {
  const reader = new FrameReader();
  assert.throws(
    () => reader.push(fromHex("ff ff ff ff 00 00"), () => {}),
    (e: unknown) =>
      e instanceof ProtocolError && /4294967295 bytes exceeds maxFrameBytes/.test(e.message),
  );
  assert.equal(reader.buffered, 0);
  // Split across chunks, too.
  const split = new FrameReader();
  split.push(fromHex("ff ff"), () => {});
  assert.throws(() => split.push(fromHex("ff ff"), () => {}), ProtocolError);
  assert.equal(split.buffered, 0);
});

Deno.test("FrameReader holds memory in step with the bytes that arrived, not the declared length", () => {
  const reader = new FrameReader({ maxFrameBytes: 0xffffffff });
  reader.push(fromHex("ff ff ff ff 01 02 03 04 05 06 07 08 09 0a"), () => assert.fail("no frame"));
  assert.ok(reader.buffered <= 64 * 1024 + 4, `holds ${reader.buffered} bytes`);
  reader.push(new Uint8Array(1024 * 1024), () => assert.fail("no frame"));
  assert.ok(reader.buffered <= 4 * 1024 * 1024, `holds ${reader.buffered} bytes`);
});

Deno.test("FrameReader gathers a 16 MiB frame from 1 KiB chunks", () => {
  const size = 16 * 1024 * 1024 - 4;
  const body = new Uint8Array(size);
  for (let i = 0; i < size; i += 4093) body[i] = i & 0xff;
  const stream = encodeFrame(body);
  const reader = new FrameReader();
  let got: Uint8Array | undefined;
  for (let o = 0; o < stream.length; o += 1024) {
    reader.push(stream.subarray(o, o + 1024), (b) => {
      got = b;
    });
  }
  assert.ok(got);
  assert.equal(got.length, size);
  assert.ok(got.every((v, i) => v === body[i]));
  assert.equal(reader.buffered, 0);
});

Deno.test("FrameReader keeps the rest of a chunk when onFrame throws", () => {
  const chunk = concat([
    encodeFrame(fromHex("01")),
    encodeFrame(fromHex("02")),
    encodeFrame(fromHex("03 04")),
  ]);
  const reader = new FrameReader();
  const got: string[] = [];
  assert.throws(() =>
    reader.push(chunk.subarray(0, 9), (b) => {
      got.push(toHex(b));
      if (got.length === 1) throw new Error("handler failed");
    }), /handler failed/);
  reader.push(chunk.subarray(9), (b) => got.push(toHex(b)));
  assert.deepEqual(got, ["01", "02", "03 04"]);
});

Deno.test("FrameReader accepts a frame of exactly maxFrameBytes split in two", () => {
  const reader = new FrameReader({ maxFrameBytes: 100_000 });
  const stream = encodeFrame(new Uint8Array(100_000).fill(1));
  const got = collect(reader, [stream.subarray(0, 50_000), stream.subarray(50_000)]);
  assert.equal(got.length, 1);
});

Deno.test("frames from Codec.encodeFrame() read back through FrameReader and decode", () => {
  const codec = new Codec();
  const values = [{ a: 1 }, [1, 2, 3], "x".repeat(70_000), new Map([[1, 2]])];
  const stream = concat(values.map((v) => codec.encodeFrame(v)));
  const out: unknown[] = [];
  const reader = new FrameReader();
  for (let o = 0; o < stream.length; o += 777) {
    reader.push(stream.subarray(o, o + 777), (b) => out.push(codec.decode(b)));
  }
  assert.deepEqual(out, values);
});

Deno.test("FrameReader copies what it keeps from a Buffer chunk the caller then reuses", () => {
  const chunk = Buffer.from(concat([encodeFrame(fromHex("01")), encodeFrame(fromHex("02 03"))]));
  const reader = new FrameReader();
  const got: string[] = [];
  assert.throws(() =>
    reader.push(chunk, (b) => {
      got.push(toHex(b));
      throw new Error("stop");
    }), /stop/);
  chunk.fill(0xee);
  reader.push(new Uint8Array(0), (b) => got.push(toHex(b)));
  assert.deepEqual(got, ["01", "02 03"]);
});
