import assert from "node:assert/strict";
import type { DownMessage, ExitMessage, Inbox } from "../../../src/actor/types.ts";
import { registerExecutor } from "../../../src/agent/executor.ts";
import { ModuleCache } from "../../../src/agent/module_cache.ts";
import { Node } from "../../../src/node.ts";
import { CodeClient } from "../../../src/remote/code_client.ts";
import { NodeManager } from "../../../src/remote/mod.ts";
import { supervise, type SupervisorEvent } from "../../../src/supervisor/mod.ts";
import type { Pid } from "../../../src/wire/pid.ts";
import { hostTest } from "./_helpers.ts";

const ACTORS = new URL("../../fixtures/spawn_link/actors.ts", import.meta.url);

function exitOf(inbox: Inbox): Promise<ExitMessage> {
  return inbox.receive<ExitMessage>({
    match: (m) => (m as ExitMessage)?.type === "EXIT",
    timeoutMs: 10_000,
  });
}

function downOf(inbox: Inbox, pid: Pid): Promise<DownMessage> {
  return inbox.receive<DownMessage>({
    match: (m) => (m as DownMessage)?.type === "DOWN" && pid.equals((m as DownMessage).pid),
    timeoutMs: 10_000,
  });
}

function errorName(reason: unknown): string | undefined {
  return (reason as { error?: { name?: string } })?.error?.name;
}

/** Two nodes over TCP on one registry; the second serves spawn like an agent. */
async function withTwoNodes(
  fn: (hub: Node, worker: Node, code: CodeClient) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fusion-spawn-link-" });
  try {
    await using hub = await Node.start({ name: "sl-hub", registryPort: 0 });
    await using worker = await Node.start({ name: "sl-worker", registryPort: hub.registryPort });
    registerExecutor(worker, new ModuleCache(dir));
    await fn(hub, worker, new CodeClient(hub, worker.name));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "spawn with { link } across two nodes",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await withTwoNodes(async (hub, worker, code) => {
      await t.step(
        "an actor that dies at once reaches the linked process as EXIT with its own reason",
        async () => {
          using inbox = hub.inbox();
          inbox.trapExits();
          const pid = await code.spawn(ACTORS, "dieAtOnce", ["at once"], { link: inbox.self });
          const exit = await exitOf(inbox);
          assert.ok(exit.pid.equals(pid));
          assert.equal(errorName(exit.reason), "RangeError");
        },
      );

      await t.step('without it, linking after the spawn sees only "noproc"', async () => {
        using inbox = hub.inbox();
        inbox.trapExits();
        const pid = await code.spawn(ACTORS, "dieAtOnce", ["at once"]);
        inbox.link(pid);
        assert.equal((await exitOf(inbox)).reason, "noproc");
      });

      await t.step("the remote actor ends when the linked process ends abnormally", async () => {
        using watcher = hub.inbox();
        const parent = hub.inbox();
        const pid = await code.spawn(ACTORS, "idle", [], { link: parent.self });
        watcher.monitor(pid);
        hub.exit(parent.self, "parent gone");
        assert.equal((await downOf(watcher, pid)).reason, "parent gone");
      });

      await t.step(
        'linked to a process that has already ended, the actor gets "noproc"',
        async () => {
          using watcher = hub.inbox();
          const parent = hub.inbox();
          parent.close();
          const pid = await code.spawn(ACTORS, "idle", [], { link: parent.self });
          watcher.monitor(pid);
          assert.equal((await downOf(watcher, pid)).reason, "noproc");
        },
      );

      await t.step("link must be a pid of the calling node", async () => {
        using other = worker.inbox();
        await assert.rejects(code.spawn(ACTORS, "idle", [], { link: other.self }), TypeError);
        await assert.rejects(
          code.run(ACTORS, "idle", [], { link: other.self } as never),
          TypeError,
        );
      });

      await t.step(
        "ctx.exit from a timer ends the remote actor and its node keeps serving",
        async () => {
          using watcher = hub.inbox();
          const pid = await code.spawn(ACTORS, "exitFromTimer", ["from a timer"]);
          watcher.monitor(pid);
          assert.equal((await downOf(watcher, pid)).reason, "from a timer");
          const again = await code.spawn(ACTORS, "exitFromTimer", [{ n: 2 }]);
          watcher.monitor(again);
          assert.deepEqual((await downOf(watcher, again)).reason, { n: 2 });
          assert.deepEqual(hub.nodes(), [worker.name]);
        },
      );
    });
  },
});

hostTest(
  "spawn with { link } on an agent over sshd reports an instant crash as EXIT with its reason",
  {},
  async ({ hub, target }) => {
    const manager = new NodeManager(target, { node: hub });
    const remote = await manager.connect();
    try {
      using inbox = hub.inbox();
      inbox.trapExits();
      const pid = await remote.spawn(ACTORS, "dieAtOnce", ["at once"], { link: inbox.self });
      const exit = await exitOf(inbox);
      assert.ok(exit.pid.equals(pid));
      assert.equal(errorName(exit.reason), "RangeError");

      const timed = await remote.spawn(ACTORS, "exitFromTimer", ["bye"]);
      inbox.monitor(timed);
      assert.equal((await downOf(inbox, timed)).reason, "bye");
      assert.equal(typeof await remote.ping(), "number");
    } finally {
      await manager.disconnect();
    }
  },
);

hostTest(
  'a supervisor sees a remote child that dies at once exit with its own reason, never "noproc"',
  {},
  async ({ hub, target }) => {
    const events: SupervisorEvent[] = [];
    await using sup = await supervise([{
      id: "brief",
      module: ACTORS,
      fn: "dieAtOnce",
      args: ["at once"],
      target,
      restart: "temporary",
    }], { node: hub, onEvent: (e) => events.push(e) });
    const deadline = Date.now() + 10_000;
    while (!events.some((e) => e.type === "child_exited") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const exited = events.find((e) => e.type === "child_exited");
    assert.ok(exited?.type === "child_exited", JSON.stringify(events.map((e) => e.type)));
    assert.equal(errorName(exited.reason), "RangeError");
    assert.equal(exited.restarting, false);
    assert.ok(sup.running);
  },
);
