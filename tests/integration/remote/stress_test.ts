import assert from "node:assert/strict";
import { NodeManager } from "../../../src/remote/mod.ts";
import { assertNothingLeft, BACKENDS, hostTest, localListeners } from "./_helpers.ts";

hostTest(
  "connect() and disconnect() 20 times in a row leave no process or listener behind",
  { deadlineMs: 180_000 },
  async ({ host, hub, t }) => {
    for (const kind of BACKENDS) {
      await t.step(kind, async () => {
        const before = await localListeners();
        const names = new Set<string>();
        for (let i = 0; i < 20; i++) {
          const manager = new NodeManager(host.target({ sshBackend: kind }), { node: hub });
          const remote = await manager.connect();
          names.add(remote.name);
          await remote.ping();
          await manager.disconnect();
          assert.deepEqual(
            await host.waitForNoProcesses({ timeoutMs: 0, matching: "agent-" }),
            [],
            `round ${i}: disconnect() resolved before the agent exited`,
          );
        }
        assert.equal(names.size, 20);
        assert.deepEqual(hub.nodes(), []);
        await assertNothingLeft(host, before);
        assert.deepEqual(host.sessionPids(), [], "no sshd session left");
      });
    }
  },
);

hostTest(
  "20 concurrent connects to one server all succeed with unique names and all disconnect cleanly",
  { deadlineMs: 180_000 },
  async ({ host, hub, t }) => {
    for (const kind of BACKENDS) {
      await t.step(kind, async () => {
        const before = await localListeners();
        const managers = Array.from(
          { length: 20 },
          // 20 agents starting at once on a small machine take a while: no timing asserted here.
          () =>
            new NodeManager(host.target({ sshBackend: kind }), {
              node: hub,
              connectTimeoutMs: 90_000,
            }),
        );
        const results = await Promise.allSettled(managers.map((m) => m.connect()));
        try {
          const failed = results.filter((r) => r.status === "rejected");
          assert.deepEqual(failed, [], "every connect succeeds");
          const remotes = results.map((r) => (r as PromiseFulfilledResult<never>).value);
          const names = new Set(remotes.map((r: { name: string }) => r.name));
          assert.equal(names.size, 20, "names are unique");
          const infos = await Promise.all(
            remotes.map((r: { info(): Promise<{ node: string; pid: number }> }) => r.info()),
          );
          assert.deepEqual(new Set(infos.map((i) => i.node)), names);
          assert.equal(new Set(infos.map((i) => i.pid)).size, 20, "20 agents");
        } finally {
          await Promise.all(managers.map((m) => m.disconnect()));
        }
        assert.deepEqual(hub.nodes(), []);
        await assertNothingLeft(host, before, { timeoutMs: 10_000 });
      });
    }
  },
);
