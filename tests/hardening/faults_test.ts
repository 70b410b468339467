// Faults between a hub and its agent, against a real sshd, with the fault relay in between:
// the agent killed, the server's sshd session killed, the link cut silently, the link slow.
// A lost connection becomes DOWN for monitors and NodeDownError for pending calls within the
// tick timeout; nothing hangs; nothing is left on the server.
import assert from "node:assert/strict";
import type { DownMessage } from "../../src/actor/types.ts";
import { NodeDownError, TimeoutError } from "../../src/errors.ts";
import { NodeManager } from "../../src/remote/mod.ts";
import type { RemoteNode } from "../../src/remote/remote_node.ts";
import type { SshBackendKind } from "../../src/ssh/mod.ts";
import type { Pid } from "../../src/wire/pid.ts";
import { eventually, within } from "./_helpers.ts";
import { REMOTE_CODE, type RemoteContext, remoteTest } from "./_remote.ts";

const TICK_MS = 2000;
const BACKENDS: SshBackendKind[] = ["ssh2", "system"];

/** Connects through the relay, with a small tick timeout on both sides. */
async function connectAgent(c: RemoteContext, backend: SshBackendKind = "ssh2") {
  const manager = new NodeManager({ ...c.target, sshBackend: backend }, {
    node: c.hub,
    tickTimeoutMs: TICK_MS,
    connectTimeoutMs: 30_000,
    output: () => {},
  });
  const remote = await manager.connect();
  return { manager, remote };
}

/** A remote actor to monitor, a monitor on it, and a call that never returns. */
async function watch(c: RemoteContext, remote: RemoteNode) {
  const pid = await remote.spawn(REMOTE_CODE, "idle", []) as Pid;
  const inbox = c.hub.inbox();
  const ref = inbox.monitor(pid);
  const pending = remote.runFun(() => new Promise<never>(() => {}), [], { timeoutMs: 60_000 });
  // Settled here, so that an early rejection is not unhandled.
  const outcome = pending.then(
    () => ({ error: undefined as unknown, at: performance.now() }),
    (error) => ({ error, at: performance.now() }),
  );
  return { pid, inbox, ref, outcome };
}

/** Waits for the DOWN and the rejection; both must come within `maxMs` of `t0`. */
async function assertLost(
  w: Awaited<ReturnType<typeof watch>>,
  t0: number,
  maxMs: number,
  minMs = 0,
): Promise<void> {
  const down = await w.inbox.receive<DownMessage>({
    match: (m) => (m as DownMessage)?.type === "DOWN",
    timeoutMs: maxMs + 5000,
  });
  const downAt = performance.now() - t0;
  assert.ok(w.ref.equals(down.ref));
  assert.equal(down.reason, "noconnection");
  const r = await within(w.outcome, 5000, "the pending call");
  assert.ok(r.ok);
  const callAt = r.value.at - t0;
  assert.ok(r.value.error instanceof NodeDownError, String(r.value.error));
  console.log(`DOWN after ${downAt.toFixed(0)} ms, NodeDownError after ${callAt.toFixed(0)} ms`);
  for (const [what, ms] of [["DOWN", downAt], ["NodeDownError", callAt]] as const) {
    assert.ok(ms <= maxMs, `${what} after ${ms.toFixed(0)} ms, over ${maxMs} ms`);
    assert.ok(ms >= minMs, `${what} after ${ms.toFixed(0)} ms, before ${minMs} ms`);
  }
  w.inbox.close();
}

/** After the loss: disconnect() does not hang, nothing is left on the server. */
async function assertCleanEnd(c: RemoteContext, manager: NodeManager): Promise<void> {
  assert.ok(await eventually(() => manager.status() === "disconnected", 5000));
  const r = await within(manager.disconnect(), 15_000, "disconnect() after the loss");
  assert.ok(r.ok);
  c.relay?.reset(); // a frozen relay holds sshd's end of the connection
  assert.deepEqual(
    await c.host.waitForNoProcesses({ timeoutMs: 10_000 }),
    [],
    "left on the server",
  );
}

for (const backend of BACKENDS) {
  remoteTest(
    `${backend}: kill -9 of the agent gives DOWN and NodeDownError within the tick timeout, and leaves nothing`,
    { relay: {}, tickTimeoutMs: TICK_MS },
    async (c) => {
      const { manager, remote } = await connectAgent(c, backend);
      const w = await watch(c, remote);
      const { pid } = await remote.info();
      const t0 = performance.now();
      Deno.kill(pid, "SIGKILL");
      await assertLost(w, t0, TICK_MS * 1.25);
      await assertCleanEnd(c, manager);
    },
  );

  remoteTest(
    `${backend}: killing the server's sshd session gives DOWN and NodeDownError within the tick timeout, and the agent exits`,
    { relay: {}, tickTimeoutMs: TICK_MS },
    async (c) => {
      const { manager, remote } = await connectAgent(c, backend);
      const w = await watch(c, remote);
      assert.ok(c.host.sessionPids().length > 0);
      const t0 = performance.now();
      await c.host.killSessions();
      await assertLost(w, t0, TICK_MS * 1.25);
      await assertCleanEnd(c, manager);
    },
  );

  remoteTest(
    `${backend}: a silent cut (the relay frozen) gives DOWN and NodeDownError at the tick timeout ± 25%, the agent exits by itself, and nothing hangs`,
    { relay: {}, tickTimeoutMs: TICK_MS },
    async (c) => {
      const { manager, remote } = await connectAgent(c, backend);
      const w = await watch(c, remote);
      await remote.ping();
      const t0 = performance.now();
      c.relay!.freeze();
      await assertLost(w, t0, TICK_MS * 1.25, TICK_MS * 0.75);
      // The agent's own hub connection ticks out as well: it exits with the link still frozen.
      const left = await c.host.waitForNoProcesses({
        matching: "agent-",
        timeoutMs: TICK_MS * 1.25 + 2000,
      });
      assert.deepEqual(left, [], "the agent outlived its tick timeout");
      await assertCleanEnd(c, manager);
    },
  );
}

remoteTest(
  "a slow link (50 ms ± 20 ms each way, 1 MiB/s): calls complete, messages keep their order, nothing is duplicated",
  {
    relay: { delayMs: 50, jitterMs: 20, bytesPerSecond: 1024 * 1024, seed: 7 },
    deadlineMs: 90_000,
  },
  async (c) => {
    const { manager, remote } = await connectAgent(c);
    try {
      using inbox = c.hub.inbox();
      const echo = await remote.spawn(REMOTE_CODE, "forward", [inbox.self]) as Pid;
      const N = 500;
      for (let i = 0; i < N; i++) c.hub.send(echo, { i, pad: "p".repeat(i % 50) });
      // Calls in flight at the same time as the messages, one of them large.
      const calls = Promise.all(
        Array.from({ length: 40 }, (_, i) => remote.runFun((n: number) => n * 2, [i])),
      );
      const big = remote.runFun((b: Uint8Array) => b.length, [new Uint8Array(768 * 1024)]);
      const got: number[] = [];
      for (let k = 0; k < N; k++) {
        const m = await inbox.receive<{ got: { i: number } }>({ timeoutMs: 30_000 });
        got.push(m.got.i);
      }
      assert.deepEqual(got, Array.from({ length: N }, (_, i) => i), "in order, each once");
      assert.deepEqual(await calls, Array.from({ length: 40 }, (_, i) => i * 2));
      assert.equal(await big, 768 * 1024);
      await assert.rejects(inbox.receive({ timeoutMs: 500 }), TimeoutError, "nothing duplicated");
      assert.ok(c.relay!.bytes > 768 * 1024);
    } finally {
      await manager.disconnect();
    }
    assert.deepEqual(await c.host.waitForNoProcesses(), []);
  },
);
