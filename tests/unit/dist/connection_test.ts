import assert from "node:assert/strict";
import { openConnection } from "../../../src/dist/connection.ts";
import { memoryTransportPair, type Transport } from "../../../src/dist/transport.ts";
import { ProtocolError } from "../../../src/errors.ts";
import {
  memoryPair,
  Recorder,
  suiteCredentials,
  tcpPair,
  transportSuite,
} from "../../support/transport_suite.ts";

transportSuite("memory", memoryPair);
transportSuite("tcp", tcpPair);

const A = "a@localhost";
const B = "b@localhost";

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Delays each write of `inner` and cuts it into pieces spread over time, like a slow link. */
function trickle(inner: Transport, pieceBytes: number, everyMs: number) {
  const queue: Uint8Array[] = [];
  let timer: ReturnType<typeof setInterval> | undefined;
  const pump = () => {
    const piece = queue.shift();
    if (piece) inner.write(piece);
    if (queue.length === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };
  const t: Transport & { stop(): void } = {
    label: `${inner.label} (trickle)`,
    get buffered() {
      return 0;
    },
    start: (h) => inner.start(h),
    write(chunk) {
      for (let off = 0; off < chunk.length; off += pieceBytes) {
        queue.push(chunk.slice(off, off + pieceBytes));
      }
      timer ??= setInterval(pump, everyMs);
    },
    close: () => inner.close(),
    stop() {
      clearInterval(timer);
      queue.length = 0;
    },
  };
  return t;
}

Deno.test("a peer busy sending one large frame over a slow link is not declared down", async () => {
  const [ta, tb] = memoryTransportPair();
  const slow = trickle(ta, 4096, 10);
  const ra = new Recorder();
  const rb = new Recorder();
  const limits = { tickTimeoutMs: 120 };
  const [a, b] = await Promise.all([
    openConnection(slow, {
      role: "initiator",
      self: A,
      creation: 1,
      credentials: suiteCredentials(),
      handlers: ra,
      limits,
    }),
    openConnection(tb, {
      role: "acceptor",
      self: B,
      creation: 1,
      credentials: suiteCredentials(),
      handlers: rb,
      limits,
    }),
  ]);
  try {
    // 400 KiB in 4 KiB pieces every 10 ms: about a second, many tick timeouts long.
    a.send(new Uint8Array(400 * 1024));
    await rb.until(() => rb.messages.length === 1, 10_000, "the large message");
    assert.deepEqual(rb.downs, []);
    assert.equal((rb.messages[0] as Uint8Array).length, 400 * 1024);
  } finally {
    slow.stop();
    a.close();
    b.close();
    await rb.downed(2000);
  }
});

Deno.test("openConnection() rejects and closes when the up handler throws", async () => {
  const [ta, tb] = memoryTransportPair();
  const ra = new Recorder();
  const boom = new Error("up failed");
  const rb = Object.assign(new Recorder(), {
    up() {
      throw boom;
    },
  });
  const [a, b] = await Promise.allSettled([
    openConnection(ta, {
      role: "initiator",
      self: A,
      creation: 1,
      credentials: suiteCredentials(),
      handlers: ra,
    }),
    openConnection(tb, {
      role: "acceptor",
      self: B,
      creation: 1,
      credentials: suiteCredentials(),
      handlers: rb,
    }),
  ]);
  assert.equal(b.status, "rejected");
  assert.equal((b as PromiseRejectedResult).reason, boom);
  assert.deepEqual(rb.downs, [boom]);
  // The initiator may have completed before the acceptor's close reached it; either way it ends.
  if (a.status === "fulfilled") await ra.downed(2000);
  else assert.ok(a.reason instanceof ProtocolError);
});

Deno.test("openConnection() with a ticket for another name fails before sending anything", async () => {
  const [ta, tb] = memoryTransportPair();
  const seen: Uint8Array[] = [];
  tb.start({ data: (c) => void seen.push(c), close: () => {} });
  await assert.rejects(
    openConnection(ta, {
      role: "initiator",
      self: A,
      creation: 1,
      credentials: { kind: "ticket", name: "other@localhost", ticket: new Uint8Array(32) },
      handlers: new Recorder(),
    }),
    ProtocolError,
  );
  await sleep(0);
  assert.deepEqual(seen, []);
});

Deno.test("the acceptor's first frames after its ack reach message() when they share a chunk", async () => {
  // The memory transport delivers each write as its own chunk; joining them tests the
  // hand-over from the handshake's reader to the connection's.
  const [ta, tb] = memoryTransportPair();
  const pending: Uint8Array[] = [];
  let flush: ReturnType<typeof setTimeout> | undefined;
  const joined: Transport = {
    label: "joined",
    get buffered() {
      return 0;
    },
    start: (h) =>
      ta.start({
        data(c) {
          pending.push(c.slice());
          flush ??= setTimeout(() => {
            flush = undefined;
            const all = new Uint8Array(pending.reduce((n, p) => n + p.length, 0));
            let off = 0;
            for (const p of pending.splice(0)) {
              all.set(p, off);
              off += p.length;
            }
            h.data(all);
          }, 5);
        },
        close: (e) => h.close(e),
      }),
    write: (c) => ta.write(c),
    close: () => ta.close(),
  };
  const ra = new Recorder();
  const rb = Object.assign(new Recorder(), {
    up(conn: { send(v: unknown): void }) {
      conn.send("first");
      conn.send("second");
    },
  });
  const [a, b] = await Promise.all([
    openConnection(joined, {
      role: "initiator",
      self: A,
      creation: 1,
      credentials: suiteCredentials(),
      handlers: ra,
    }),
    openConnection(tb, {
      role: "acceptor",
      self: B,
      creation: 1,
      credentials: suiteCredentials(),
      handlers: rb,
    }),
  ]);
  try {
    await ra.until(() => ra.messages.length === 2, 2000, "messages");
    assert.deepEqual(ra.messages, ["first", "second"]);
    assert.equal(ra.outOfOrder, false);
  } finally {
    a.close();
    b.close();
    await ra.downed(2000);
    clearTimeout(flush);
  }
});
