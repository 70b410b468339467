// Hostile values in run/runFun arguments and results, against a real agent: cycles,
// functions, deep nesting, huge arrays and strings stay within the limits with a clear
// ProtocolError (at the sender for arguments; carried back for results), and the agent and
// the hub keep serving.
import assert from "node:assert/strict";
import { ProtocolError, RemoteError } from "../../src/errors.ts";
import { DEFAULT_LIMITS } from "../../src/limits.ts";
import { NodeManager } from "../../src/remote/mod.ts";
import { REMOTE_CODE, remoteTest } from "./_remote.ts";

const { maxDepth, maxItems, maxFrameBytes } = DEFAULT_LIMITS;

function nested(levels: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

remoteTest(
  "hostile run/runFun arguments are refused at the sender and hostile results come back as a clear error, with the agent serving on",
  { deadlineMs: 120_000 },
  async ({ host, hub, target, t }) => {
    const manager = new NodeManager(target, { node: hub, output: () => {} });
    const remote = await manager.connect();
    try {
      // Warm: the module is pushed once, so the steps below only carry values.
      assert.equal(await remote.run(REMOTE_CODE, "echo", ["warm"]), "warm");
      const cyclic: Record<string, unknown> = { name: "loop" };
      cyclic.self = cyclic;
      const args: [string, unknown, RegExp][] = [
        ["a cycle", cyclic, /cannot send a cycle/],
        ["a function", { f: () => 1 }, /cannot send a function/],
        ["nesting past maxDepth", nested(maxDepth + 10), /deeper than maxDepth/],
        ["more items than maxItems", new Array(maxItems + 1).fill(0), /maxItems/],
        ["a string over maxFrameBytes", "x".repeat(maxFrameBytes + 1), /over maxFrameBytes/],
        ["a symbol", [Symbol("s")], /cannot send a symbol/],
      ];
      for (const [what, value, message] of args) {
        await t.step(`an argument with ${what} is a ProtocolError at the sender`, async () => {
          const sentBefore = hub.nodes().length;
          for (
            const call of [
              () => remote.runFun((x: unknown) => typeof x, [value]),
              () => remote.run(REMOTE_CODE, "echo", [value]),
            ]
          ) {
            await assert.rejects(call(), (e: unknown) => {
              assert.ok(e instanceof ProtocolError && !(e instanceof RemoteError), String(e));
              assert.match(e.message, message);
              assert.ok(!e.message.includes("\n"), "one line");
              return true;
            });
          }
          assert.equal(hub.nodes().length, sentBefore);
          assert.equal(await remote.runFun(() => "still here"), "still here");
        });
      }
      const results: [string, string, unknown[], RegExp][] = [
        ["a cycle", "cyclic", [], /cannot send a cycle/],
        ["a function", "aFunction", [], /cannot send a function/],
        ["nesting past maxDepth", "deep", [maxDepth + 10], /deeper than maxDepth/],
        ["more items than maxItems", "manyItems", [maxItems + 1], /maxItems/],
        ["a string over maxFrameBytes", "bigString", [maxFrameBytes + 1], /over maxFrameBytes/],
      ];
      for (const [what, fn, fnArgs, message] of results) {
        await t.step(`a result with ${what} comes back as the agent's ProtocolError`, async () => {
          await assert.rejects(remote.run(REMOTE_CODE, fn, fnArgs), (e: unknown) => {
            assert.ok(e instanceof RemoteError, String(e));
            assert.equal(e.remoteName, "ProtocolError");
            assert.match(e.message, message);
            return true;
          });
          assert.ok(await remote.ping() >= 0, "the agent serves on");
        });
      }
      await t.step("values just within the limits pass both ways", async () => {
        const big = "y".repeat(maxFrameBytes - 1024);
        assert.equal(await remote.runFun((s: string) => s.length, [big]), big.length);
        assert.equal(
          (await remote.run(REMOTE_CODE, "bigString", [maxFrameBytes - 1024]) as string).length,
          maxFrameBytes - 1024,
        );
        assert.deepEqual(
          await remote.run(REMOTE_CODE, "deep", [maxDepth - 5]),
          nested(maxDepth - 5),
        );
      });
      assert.ok(hub.nodes().includes(remote.name), "the connection was never dropped");
    } finally {
      await manager.disconnect();
    }
    assert.deepEqual(await host.waitForNoProcesses(), []);
  },
);
