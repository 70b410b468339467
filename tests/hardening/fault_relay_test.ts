// The fault relay itself (tests/support/fault_relay.ts): it must delay, pace, freeze and
// reset as it says, or the fault tests built on it prove nothing.
import assert from "node:assert/strict";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { startFaultRelay } from "../support/fault_relay.ts";
import { eventually, sleep } from "./_helpers.ts";

/** An echo server on 127.0.0.1. */
async function echoServer(): Promise<{ port: number; server: Server; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, () => r()));
  const addr = server.address();
  return {
    port: typeof addr === "object" && addr ? addr.port : 0,
    server,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

interface Client {
  socket: Socket;
  received: number[];
  closed: Promise<string | undefined>;
}

function dial(port: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port, noDelay: true });
    const received: number[] = [];
    let error: string | undefined;
    socket.on("data", (c: Uint8Array) => received.push(...c));
    socket.on("error", (e: Error & { code?: string }) => (error = e.code ?? e.message));
    const closed = new Promise<string | undefined>((r) => socket.on("close", () => r(error)));
    socket.once("error", reject);
    socket.once("connect", () => resolve({ socket, received, closed }));
  });
}

Deno.test("the fault relay adds its delay each way and keeps order under jitter", async () => {
  const echo = await echoServer();
  await using relay = await startFaultRelay(echo.port, { delayMs: 50, jitterMs: 30, seed: 1 });
  const c = await dial(relay.port);
  try {
    const t0 = performance.now();
    c.socket.write(new Uint8Array([1]));
    assert.ok(await eventually(() => c.received.length === 1, 2000, 1));
    const rtt = performance.now() - t0;
    assert.ok(rtt >= 95, `a round trip took ${rtt.toFixed(0)} ms, under twice the delay`);
    // 1,000 small writes, each with its own jitter, come back in order.
    const sent = Array.from({ length: 1000 }, (_, i) => i & 255);
    for (const b of sent) c.socket.write(new Uint8Array([b]));
    assert.ok(await eventually(() => c.received.length === 1001, 5000));
    assert.deepEqual(c.received.slice(1), sent);
  } finally {
    c.socket.destroy();
    await echo.close();
  }
});

Deno.test("the fault relay caps the bandwidth", async () => {
  const echo = await echoServer();
  await using relay = await startFaultRelay(echo.port, { bytesPerSecond: 1024 * 1024 });
  const c = await dial(relay.port);
  try {
    const t0 = performance.now();
    c.socket.write(new Uint8Array(512 * 1024).fill(7));
    assert.ok(await eventually(() => c.received.length === 512 * 1024, 10_000));
    const ms = performance.now() - t0;
    // 512 KiB at 1 MiB/s is 0.5 s each way, and the two directions overlap.
    assert.ok(ms >= 450, `512 KiB came back after ${ms.toFixed(0)} ms`);
  } finally {
    c.socket.destroy();
    await echo.close();
  }
});

Deno.test("a frozen relay passes nothing and closes nothing; thawed, it delivers what it held, in order", async () => {
  const echo = await echoServer();
  await using relay = await startFaultRelay(echo.port);
  const c = await dial(relay.port);
  try {
    c.socket.write(new Uint8Array([1]));
    assert.ok(await eventually(() => c.received.length === 1, 2000));
    relay.freeze();
    c.socket.write(new Uint8Array([2, 3]));
    await sleep(300);
    assert.deepEqual(c.received, [1]);
    assert.equal(relay.connections, 1);
    assert.ok(!c.socket.destroyed);
    relay.thaw();
    c.socket.write(new Uint8Array([4]));
    assert.ok(await eventually(() => c.received.length === 4, 2000));
    assert.deepEqual(c.received, [1, 2, 3, 4]);
  } finally {
    c.socket.destroy();
    await echo.close();
  }
});

Deno.test("reset() ends every relayed connection with a TCP reset", async () => {
  const echo = await echoServer();
  await using relay = await startFaultRelay(echo.port);
  const c = await dial(relay.port);
  try {
    c.socket.write(new Uint8Array([1]));
    assert.ok(await eventually(() => c.received.length === 1, 2000));
    relay.reset();
    assert.equal(await c.closed, "ECONNRESET");
    assert.ok(await eventually(() => relay.connections === 0, 2000));
  } finally {
    c.socket.destroy();
    await echo.close();
  }
});
