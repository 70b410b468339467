import assert from "node:assert/strict";
import { Node } from "../../src/node.ts";
import type { DownMessage } from "../../src/actor/types.ts";

const COOKIE = "two-process-test-cookie";

async function startPeer(name: string, registryPort: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../support/peer_node.ts", import.meta.url).pathname],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode(JSON.stringify({ name, cookie: COOKIE, registryPort }) + "\n"),
  );
  const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("ready")) {
    const { value, done } = await out.read();
    if (done) throw new Error("peer exited before it was ready");
    text += value;
  }
  out.releaseLock();
  child.stdout.cancel().catch(() => {});
  return { child, writer };
}

Deno.test("two processes find each other through the registry and exchange 10,000 messages in order", async () => {
  await using a = await Node.start({ name: "proc-a", cookie: COOKIE, registryPort: 0 });
  const peer = await startPeer("proc-b", a.registryPort);
  try {
    using inbox = a.inbox();
    const N = 10_000;
    for (let n = 0; n < N; n++) a.send(["echo", "proc-b@localhost"], { from: inbox.self, n });
    for (let n = 0; n < N; n++) {
      const m = await inbox.receive<{ n: number }>({ timeoutMs: 10_000 });
      assert.equal(m.n, n);
    }
    assert.deepEqual(a.nodes(), ["proc-b@localhost"]);
  } finally {
    await peer.writer.close().catch(() => {});
    await peer.child.status;
  }
});

Deno.test("kill -9 of a peer process gives a monitor DOWN with reason noconnection well within the tick timeout", async () => {
  await using a = await Node.start({
    name: "proc-c",
    cookie: COOKIE,
    registryPort: 0,
    tickTimeoutMs: 60_000,
  });
  const peer = await startPeer("proc-d", a.registryPort);
  try {
    using inbox = a.inbox();
    a.send(["echo", "proc-d@localhost"], { from: inbox.self, n: 1 });
    await inbox.receive({ timeoutMs: 10_000 });
    const ref = inbox.monitor(["echo", "proc-d@localhost"]);
    // The monitor round trip: a ping through the same connection orders after it.
    a.send(["echo", "proc-d@localhost"], { from: inbox.self, n: 2 });
    await inbox.receive({ match: (m) => (m as { n?: number }).n === 2, timeoutMs: 10_000 });
    const t0 = performance.now();
    peer.child.kill("SIGKILL");
    const down = await inbox.receive<DownMessage>({
      match: (m) => (m as DownMessage).type === "DOWN",
      timeoutMs: 10_000,
    });
    assert.ok(down.ref.equals(ref));
    assert.equal(down.reason, "noconnection");
    assert.ok(performance.now() - t0 < 15_000);
  } finally {
    await peer.writer.close().catch(() => {});
    await peer.child.status;
  }
});
