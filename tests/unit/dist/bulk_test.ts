import assert from "node:assert/strict";
import { type Connection, openConnection } from "../../../src/dist/connection.ts";
import { memoryTransportPair, type Transport } from "../../../src/dist/transport.ts";
import { Codec } from "../../../src/wire/codec.ts";
import { connectionOptions, Recorder, tcpPair } from "../../support/transport_suite.ts";

function open(ta: Transport, tb: Transport, ra: Recorder, rb: Recorder) {
  return Promise.all([
    openConnection(ta, connectionOptions("initiator", ra)),
    openConnection(tb, connectionOptions("acceptor", rb)),
  ]);
}

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + seed) & 0xff;
  return b;
}

async function closeBoth(a: Connection, b: Connection, ra: Recorder, rb: Recorder) {
  a.close();
  b.close();
  await Promise.all([ra.downed(2000), rb.downed(2000)]);
}

Deno.test("frames queued in one turn: a large one is written as it is, small ones joined", async () => {
  const [ta, tb] = memoryTransportPair();
  const writes: Uint8Array[] = [];
  const write = ta.write.bind(ta);
  ta.write = (chunk) => {
    writes.push(chunk);
    write(chunk);
  };
  const ra = new Recorder();
  const rb = new Recorder();
  const [a, b] = await open(ta, tb, ra, rb);
  try {
    const codec = new Codec();
    const small = codec.encodeFrame("s");
    const large = codec.encodeFrame(bytes(300_000, 1));
    writes.length = 0;
    a.sendFrame(small);
    a.sendFrame(small);
    a.sendFrame(large);
    a.sendFrame(small);
    a.sendFrame(small);
    await rb.until(() => rb.messages.length === 5, 5000, "five messages");
    assert.equal(writes.length, 3);
    assert.equal(writes[0]!.length, 2 * small.length);
    assert.equal(writes[1], large); // the same bytes, not a copy
    assert.equal(writes[2]!.length, 2 * small.length);
    assert.deepEqual(rb.messages, ["s", "s", bytes(300_000, 1), "s", "s"]);
  } finally {
    await closeBoth(a, b, ra, rb);
  }
});

Deno.test("large and small messages over TCP arrive intact and in order", async () => {
  const pair = await tcpPair();
  const ra = new Recorder();
  const rb = new Recorder();
  const [a, b] = await open(pair.a, pair.b, ra, rb);
  try {
    const sent: unknown[] = [];
    for (let i = 0; i < 12; i++) {
      const msg = i % 3 === 1 ? { i, data: bytes(1024 * 1024 + i, i) } : { i, s: "x".repeat(i) };
      sent.push(msg);
      a.send(msg);
      if (i % 4 === 3) await new Promise((r) => setTimeout(r, 0));
    }
    await rb.until(() => rb.messages.length === sent.length, 20_000, "all messages");
    assert.deepEqual(rb.messages, sent);
    assert.deepEqual(rb.downs, []);
  } finally {
    await closeBoth(a, b, ra, rb);
    await pair.cleanup?.();
  }
});
