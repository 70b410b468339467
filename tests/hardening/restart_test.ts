// A node restarted under the same name is a new incarnation: messages and signals for its
// predecessor's pids are dropped, never delivered to the new one (the creation number in
// every pid tells them apart). Proven with two local nodes, and with an agent reconnected
// under the same name over real sshd.
import assert from "node:assert/strict";
import type { DownMessage, ExitMessage } from "../../src/actor/types.ts";
import { TimeoutError } from "../../src/errors.ts";
import { Node } from "../../src/node.ts";
import { NodeManager } from "../../src/remote/mod.ts";
import { Pid } from "../../src/wire/pid.ts";
import { COOKIE } from "./_helpers.ts";
import { REMOTE_CODE, remoteTest } from "./_remote.ts";

/** An actor that forwards whatever it gets to `to`. */
function forwarder(node: Node, to: Pid): Pid {
  return node.spawn(async (ctx) => {
    while (true) ctx.send(to, { got: await ctx.receive(), via: ctx.self });
  });
}

Deno.test("two local nodes: after b restarts under its name, a's messages and signals for the old pids reach nobody", async () => {
  await using a = await Node.start({ name: "a", cookie: COOKIE, registryPort: 0 });
  using inbox = a.inbox();
  inbox.trapExits();
  const b1 = await Node.start({ name: "b", cookie: COOKIE, registryPort: a.registryPort });
  const old = forwarder(b1, inbox.self);
  a.send(old, "to the first b");
  assert.deepEqual(
    (await inbox.receive<{ got: unknown }>({ timeoutMs: 5000 })).got,
    "to the first b",
  );
  await b1.close();
  await using b2 = await Node.start({ name: "b", cookie: COOKIE, registryPort: a.registryPort });
  const fresh = forwarder(b2, inbox.self);
  assert.equal(fresh.node, old.node);
  assert.equal(fresh.id, old.id, "the new b reuses the old pid's number");
  assert.notEqual(fresh.creation, old.creation);
  // Everything aimed at the old pid: a message, a link, a monitor, an exit signal.
  a.send(old, "for the old b");
  a.exit(old, "kill");
  inbox.link(old);
  const ref = inbox.monitor(old);
  const exit = await inbox.receive<ExitMessage>({
    match: (m) => (m as ExitMessage)?.type === "EXIT",
    timeoutMs: 5000,
  });
  assert.deepEqual(exit, { type: "EXIT", pid: old, reason: "noproc" });
  const down = await inbox.receive<DownMessage>({
    match: (m) => (m as DownMessage)?.type === "DOWN",
    timeoutMs: 5000,
  });
  assert.deepEqual(down, { type: "DOWN", ref, pid: old, reason: "noproc" });
  // The new incarnation got none of it, and is alive: it answers its own pid.
  a.send(fresh, "for the new b");
  const m = await inbox.receive<{ got: unknown; via: Pid }>({ timeoutMs: 5000 });
  assert.deepEqual(m.got, "for the new b");
  assert.ok(m.via.equals(fresh));
  await assert.rejects(inbox.receive({ timeoutMs: 300 }), TimeoutError, "nothing else arrived");
  assert.ok(b2.actors.isAlive(fresh));
});

remoteTest(
  "an agent reconnected under the same name is a new incarnation: the old pids reach nothing on it",
  { deadlineMs: 90_000 },
  async ({ host, hub, target }) => {
    using inbox = hub.inbox();
    const first = new NodeManager(target, { node: hub, name: "web01", output: () => {} });
    const r1 = await first.connect();
    const old = await r1.spawn(REMOTE_CODE, "forward", [inbox.self]) as Pid;
    hub.send(old, "hello first");
    assert.equal((await inbox.receive<{ got: unknown }>({ timeoutMs: 10_000 })).got, "hello first");
    await first.disconnect();

    const second = new NodeManager(target, { node: hub, name: "web01", output: () => {} });
    const r2 = await second.connect();
    try {
      assert.equal(r2.name, r1.name);
      const fresh = await r2.spawn(REMOTE_CODE, "forward", [inbox.self]) as Pid;
      assert.equal(fresh.node, old.node);
      assert.notEqual(fresh.creation, old.creation);
      // The old pid, and a pid with the new one's number but the old creation.
      const forged = new Pid(fresh.node, fresh.id, old.creation);
      for (const p of [old, forged]) hub.send(p, { for: String(p) });
      const ref = inbox.monitor(forged);
      const down = await inbox.receive<DownMessage>({
        match: (m) => (m as DownMessage)?.type === "DOWN",
        timeoutMs: 10_000,
      });
      assert.deepEqual(down, { type: "DOWN", ref, pid: forged, reason: "noproc" });
      hub.send(fresh, "hello second");
      const m = await inbox.receive<{ got: unknown; via: Pid }>({ timeoutMs: 10_000 });
      assert.equal(m.got, "hello second", "only what was sent to the new pid arrives");
      assert.ok(m.via.equals(fresh));
      await assert.rejects(inbox.receive({ timeoutMs: 500 }), TimeoutError);
    } finally {
      await second.disconnect();
    }
    assert.deepEqual(await host.waitForNoProcesses(), []);
  },
);
