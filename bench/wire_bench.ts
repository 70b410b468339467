/**
 * Wire layer throughput: `deno run -A bench/wire_bench.ts [--json]`.
 *
 * Measures a ~100-byte message (a control-message-shaped array with a pid and a small
 * object) through encode, pre-scan, decode, and whole round trips, plus the frame reader
 * on many small frames in one chunk and on one big frame in many small chunks.
 * @module
 */
import { Codec, FrameReader, Pid, prescan } from "../src/wire/mod.ts";

const MESSAGE = [
  1,
  new Pid("worker@web-01", 4711, 1),
  {
    type: "job",
    id: 123456,
    args: ["deploy", "v1.2.3", "--canary"],
    retries: 2,
    urgent: false,
    eta: 1.5,
  },
];

interface Row {
  name: string;
  opsPerSec: number;
  nsPerOp: number;
  note: string;
}

function measure(name: string, note: string, run: (n: number) => void, ops = 1): Row {
  let n = 1000;
  run(n); // warm up
  for (;;) {
    const t = performance.now();
    run(n);
    const ms = performance.now() - t;
    if (ms > 400) {
      const perSec = (n * ops) / (ms / 1000);
      return { name, opsPerSec: Math.round(perSec), nsPerOp: Math.round(1e9 / perSec), note };
    }
    n *= 2;
  }
}

function best(name: string, note: string, run: (n: number) => void, ops = 1): Row {
  let top: Row | undefined;
  for (let i = 0; i < 5; i++) {
    const r = measure(name, note, run, ops);
    if (!top || r.opsPerSec > top.opsPerSec) top = r;
  }
  return top!;
}

const codec = new Codec();
const body = codec.encode(MESSAGE).slice();
const frame = codec.encodeFrame(MESSAGE);
let sink: unknown;

const rows: Row[] = [];
rows.push(best("encode", `${body.length}-byte body`, (n) => {
  for (let i = 0; i < n; i++) sink = codec.encode(MESSAGE);
}));
rows.push(best("encodeFrame", `${frame.length}-byte frame`, (n) => {
  for (let i = 0; i < n; i++) sink = codec.encodeFrame(MESSAGE);
}));
rows.push(best("prescan", "alone", (n) => {
  for (let i = 0; i < n; i++) prescan(body, codec.limits);
}));
rows.push(best("decode", "pre-scan + cbor-x", (n) => {
  for (let i = 0; i < n; i++) sink = codec.decode(body);
}));

// A round trip as a connection does it: frame out, bytes in, reader, decode.
const receiver = new Codec();
const reader = new FrameReader();
const onFrame = (b: Uint8Array) => {
  sink = receiver.decode(b);
};
rows.push(best("round trip", "encodeFrame + FrameReader + decode", (n) => {
  for (let i = 0; i < n; i++) reader.push(codec.encodeFrame(MESSAGE), onFrame);
}));

// Many small frames arriving in one chunk.
const BATCH = 1000;
const batch = new Uint8Array(frame.length * BATCH);
for (let i = 0; i < BATCH; i++) batch.set(frame, i * frame.length);
let count = 0;
const counter = (_b: Uint8Array) => {
  count++;
};
rows.push(best("FrameReader split", `${BATCH} frames per chunk, frames/s`, (n) => {
  for (let i = 0; i < n; i++) reader.push(batch, counter);
}, BATCH));
rows.push(best("receive", `${BATCH} frames per chunk, split + decode, msgs/s`, (n) => {
  for (let i = 0; i < n; i++) reader.push(batch, onFrame);
}, BATCH));

// One 16 MiB frame arriving in 1 KiB chunks: must stay linear.
const BIG = 16 * 1024 * 1024 - 16;
const bigFrame = new Uint8Array(BIG + 4);
new DataView(bigFrame.buffer).setUint32(0, BIG);
const t = performance.now();
let got = 0;
const bigReader = new FrameReader();
for (let off = 0; off < bigFrame.length; off += 1024) {
  bigReader.push(bigFrame.subarray(off, Math.min(off + 1024, bigFrame.length)), (b) => {
    got = b.length;
  });
}
const bigMs = performance.now() - t;
if (got !== BIG) throw new Error("big frame lost");
rows.push({
  name: "16 MiB frame in 1 KiB chunks",
  opsPerSec: Math.round(1000 / bigMs),
  nsPerOp: Math.round(bigMs * 1e6),
  note: `${(BIG / 1024 / 1024 / (bigMs / 1000)).toFixed(0)} MiB/s`,
});

if (count === 0 || sink === undefined) throw new Error("nothing measured");

if (Deno.args.includes("--json")) {
  console.log(JSON.stringify({ bench: "wire", messageBytes: body.length, rows }, null, 2));
} else {
  console.log(`wire bench: message of ${body.length} bytes (${frame.length} framed)\n`);
  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(`${"case".padEnd(w)}  ${"ops/s".padStart(11)}  ${"ns/op".padStart(9)}  note`);
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(w)}  ${r.opsPerSec.toLocaleString("en").padStart(11)}  ${
        r.nsPerOp.toLocaleString("en").padStart(9)
      }  ${r.note}`,
    );
  }
}
