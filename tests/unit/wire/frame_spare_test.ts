import assert from "node:assert/strict";
import { ProtocolError } from "../../../src/errors.ts";
import { frameBuffer, FrameReader, recycleFrame } from "../../../src/wire/frame.ts";

function frameOf(body: Uint8Array): Uint8Array {
  const f = new Uint8Array(4 + body.length);
  new DataView(f.buffer).setUint32(0, body.length);
  f.set(body, 4);
  return f;
}

function body(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);
}

Deno.test("FrameReader.spare() lets the rest of a large frame be read in place", () => {
  const r = new FrameReader();
  const want = body(1024 * 1024);
  const frame = frameOf(want);
  const got: [Uint8Array, boolean][] = [];
  assert.equal(r.spare(), undefined);
  r.push(frame.subarray(0, 200_000), (b, owned) => got.push([b, owned]));
  let off = 200_000;
  let target: Uint8Array | undefined;
  let last: Uint8Array | undefined;
  while ((target = r.spare()) !== undefined) {
    last = target;
    const n = Math.min(target.length, 300_000, frame.length - off);
    target.set(frame.subarray(off, off + n)); // what a socket read would do
    off += n;
    r.push(target.subarray(0, n), (b, owned) => got.push([b, owned]));
  }
  assert.equal(off, frame.length);
  assert.equal(got.length, 1);
  assert.deepEqual(got[0]![0], want);
  assert.equal(got[0]![1], true);
  assert.equal(got[0]![0].buffer, last?.buffer); // read in place, not copied out
  assert.equal(r.buffered, 0);
});

Deno.test("FrameReader.spare() is undefined between frames, and frames in one chunk are not owned", () => {
  const r = new FrameReader();
  const got: boolean[] = [];
  const two = new Uint8Array([...frameOf(body(10)), ...frameOf(body(20))]);
  r.push(two, (_b, owned) => got.push(owned));
  assert.deepEqual(got, [false, false]);
  assert.equal(r.spare(), undefined);
});

Deno.test("a split frame is gathered in at most four times the bytes in hand", () => {
  const r = new FrameReader();
  const head = new Uint8Array(4);
  new DataView(head.buffer).setUint32(0, 16 * 1024 * 1024 - 1);
  r.push(head, () => {});
  assert.ok(r.buffered <= 64 * 1024, `${r.buffered} bytes held for a bare length prefix`);
  r.push(new Uint8Array(100_000), () => {});
  assert.ok(r.buffered <= 400_000, `${r.buffered} bytes held for 100,000 bytes in hand`);
  assert.ok((r.spare()?.length ?? 0) <= 400_000);
});

Deno.test("a 4 GiB length prefix still throws before allocating, and spare() stays undefined", () => {
  const r = new FrameReader();
  assert.throws(
    () => r.push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0]), () => {}),
    ProtocolError,
  );
  assert.equal(r.buffered, 0);
  assert.equal(r.spare(), undefined);
});

Deno.test("a large frame's buffer is reused only once handed back, and only once", () => {
  const a = frameBuffer(100_000);
  const b = frameBuffer(100_000);
  assert.notEqual(a.buffer, b.buffer);
  assert.equal(a.length, 100_000);
  recycleFrame(a);
  recycleFrame(a); // a second hand-back must not pool it twice
  const c = frameBuffer(100_000);
  const d = frameBuffer(100_000);
  assert.equal(c.buffer, a.buffer);
  assert.notEqual(d.buffer, a.buffer);
  recycleFrame(new Uint8Array(100_000)); // not from the pool: ignored
  assert.notEqual(frameBuffer(100_000).buffer, a.buffer);
  assert.equal(frameBuffer(1000).length, 1000); // small frames are not pooled
});
