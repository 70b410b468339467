import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { tcpConnect, tcpListen } from "../../../src/dist/tcp.ts";
import {
  duplexTransport,
  memoryTransportPair,
  type Transport,
} from "../../../src/dist/transport.ts";
import { ConnectError } from "../../../src/errors.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Starts `t` and records what it reports. */
function observe(t: Transport) {
  const seen = { bytes: [] as number[], closes: [] as (Error | undefined)[] };
  t.start({
    data: (c) => void seen.bytes.push(...c),
    close: (e) => void seen.closes.push(e),
  });
  return seen;
}

Deno.test("a memory pair carries bytes both ways in order", async () => {
  const [a, b] = memoryTransportPair();
  const sa = observe(a);
  const sb = observe(b);
  a.write(new Uint8Array([1, 2]));
  a.write(new Uint8Array([3]));
  b.write(new Uint8Array([9]));
  await sleep(0);
  assert.deepEqual(sb.bytes, [1, 2, 3]);
  assert.deepEqual(sa.bytes, [9]);
  a.close();
  await sleep(0);
});

Deno.test("a memory transport copies what is written, so the writer may reuse its buffer", async () => {
  const [a, b] = memoryTransportPair();
  const sb = observe(b);
  a.start({ data() {}, close() {} });
  const buf = new Uint8Array([1, 2, 3]);
  a.write(buf);
  buf.fill(0);
  await sleep(0);
  assert.deepEqual(sb.bytes, [1, 2, 3]);
  a.close();
  await sleep(0);
});

Deno.test("a memory transport holds bytes that arrive before start()", async () => {
  const [a, b] = memoryTransportPair();
  a.start({ data() {}, close() {} });
  a.write(new Uint8Array([5, 6]));
  await sleep(0);
  const sb = observe(b);
  assert.deepEqual(sb.bytes, [5, 6]);
  b.close();
  await sleep(0);
});

Deno.test("closing one end of a memory pair closes both, once each, and later writes are dropped", async () => {
  const [a, b] = memoryTransportPair();
  const sa = observe(a);
  const sb = observe(b);
  a.close();
  a.close();
  b.close();
  await sleep(0);
  assert.deepEqual(sa.closes, [undefined]);
  assert.deepEqual(sb.closes, [undefined]);
  a.write(new Uint8Array([1]));
  b.write(new Uint8Array([1]));
  await sleep(0);
  assert.deepEqual([sa.bytes, sb.bytes], [[], []]);
});

Deno.test("duplexTransport() reports an error that came before start() instead of crashing", async () => {
  const stream = new Duplex({
    read() {},
    write(_c, _e, cb) {
      cb();
    },
  });
  const t = duplexTransport(stream, "test duplex");
  assert.equal(t.label, "test duplex");
  const boom = new Error("reset before start");
  stream.emit("error", boom);
  await sleep(0);
  const seen = observe(t);
  assert.deepEqual(seen.closes, [boom]);
});

Deno.test("duplexTransport() reports the stream's error once and ignores later writes", async () => {
  const stream = new Duplex({
    read() {},
    write(_c, _e, cb) {
      cb();
    },
  });
  const t = duplexTransport(stream, "test duplex");
  const seen = observe(t);
  const boom = new Error("broken");
  stream.destroy(boom);
  await sleep(10);
  assert.deepEqual(seen.closes, [boom]);
  t.write(new Uint8Array([1]));
  t.close();
  await sleep(0);
  assert.equal(seen.closes.length, 1);
});

Deno.test("tcpConnect() to a port where nothing listens rejects with ConnectError", async () => {
  const l = await tcpListen(() => {});
  const port = l.port;
  await l.close();
  await assert.rejects(tcpConnect(port), ConnectError);
});

Deno.test("a TCP transport pair carries bytes, and closing one side closes both cleanly", async () => {
  let accepted!: (t: Transport) => void;
  const got = new Promise<Transport>((r) => (accepted = r));
  const l = await tcpListen((t) => accepted(t));
  assert.ok(l.port > 0);
  const a = await tcpConnect(l.port);
  const b = await got;
  const sa = observe(a);
  const sb = observe(b);
  assert.match(a.label, new RegExp(`^tcp 127\\.0\\.0\\.1:${l.port}$`));
  a.write(new Uint8Array([1, 2, 3]));
  b.write(new Uint8Array([4]));
  while (sb.bytes.length < 3 || sa.bytes.length < 1) await sleep(5);
  assert.deepEqual(sb.bytes, [1, 2, 3]);
  assert.deepEqual(sa.bytes, [4]);
  a.close();
  a.write(new Uint8Array([7])); // after close: dropped, no 'write after end' error
  while (sa.closes.length === 0 || sb.closes.length === 0) await sleep(5);
  assert.deepEqual(sa.closes, [undefined]);
  assert.deepEqual(sb.closes, [undefined]);
  assert.deepEqual(sb.bytes, [1, 2, 3]);
  await l.close();
});
