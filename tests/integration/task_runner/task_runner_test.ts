import assert from "node:assert/strict";
import {
  connect,
  type DownMessage,
  Node,
  NodeDownError,
  pushModule,
  RemoteError,
  run,
  runFun,
  spawn,
  TimeoutError,
} from "../../../mod.ts";
import { startSshd } from "../../support/mod.ts";

const fixture = (path: string) => new URL(`../../fixtures/task_runner/${path}`, import.meta.url);

Deno.test("the task runner pushes code to a real sshd host and runs it there", async (t) => {
  const host = await startSshd();
  const output: string[] = [];
  try {
    await using node = await Node.start({ name: "tr-hub", registryPort: 0 });
    await using remote = await connect(host.target(), {
      node,
      output: (line, name) => output.push(`[${name}] ${line}`),
    });

    await t.step("runFun returns system info from the remote (the README's example)", async () => {
      const info = await runFun(remote, () => ({
        deno: Deno.version.deno,
        os: Deno.build.os,
        user: Deno.env.get("USER") ?? Deno.env.get("LOGNAME"),
      }));
      assert.equal(info.os, "linux");
      assert.equal(info.deno, Deno.version.deno);
      assert.equal(info.user, host.user);
    });

    await t.step("runFun passes arguments and defaults them to none", async () => {
      assert.equal(await runFun(remote, (a: number, b: number) => a + b, [1, 2]), 3);
      assert.equal(await runFun(remote, () => 7), 7);
    });

    await t.step("runFun names a captured variable the remote does not have", async () => {
      const secretLocal = 41;
      await assert.rejects(
        runFun(remote, () => secretLocal + 1),
        (e: unknown) =>
          e instanceof RemoteError && e.remoteName === "ReferenceError" &&
          e.message.includes('"secretLocal"') && e.message.includes("args"),
      );
    });

    await t.step(
      "run calls a pushed module that reads /proc/meminfo and runs hostname",
      async () => {
        const health = await run(remote, fixture("health.ts"), "check", []) as {
          hostname: string;
          denoVersion: string;
          memoryMb: number;
        };
        assert.equal(health.hostname, Deno.hostname());
        assert.equal(health.denoVersion, Deno.version.deno);
        assert.ok(health.memoryMb > 0);
      },
    );

    await t.step(
      "a chain of relative imports and an npm package not installed on the server run",
      async () => {
        const r = await run(remote, fixture("chain/entry.ts"), "summary", [5]);
        assert.deepEqual(r, { text: "doubled twice: 20", twoHours: 7_200_000 });
        const pushed = await pushModule(remote, fixture("chain/entry.ts"));
        assert.equal(pushed.bytes, 0);
        assert.ok(pushed.modules.some((m) => m.endsWith("chain/three.ts")));
        assert.match(pushed.hash, /^[0-9a-f]{64}$/);
      },
    );

    await t.step("a re-run sends 0 bytes and an edited module runs its new code", async () => {
      const dir = await Deno.makeTempDir();
      try {
        const file = `${dir}/mod.ts`;
        await Deno.writeTextFile(file, `export const version = () => 1;\n`);
        const first = await pushModule(remote, file);
        assert.ok(first.bytes > 0);
        assert.equal(await run(remote, file, "version"), 1);
        assert.equal((await pushModule(remote, file)).bytes, 0);
        await Deno.writeTextFile(file, `export const version = () => 2; // edited\n`);
        const second = await pushModule(remote, file);
        assert.notEqual(second.hash, first.hash);
        assert.ok(second.bytes > 0);
        assert.equal(await run(remote, file, "version"), 2);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });

    await t.step("100 concurrent run calls on one node return correct results", async () => {
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => run(remote, fixture("faults.ts"), "add", [i, 1000])),
      );
      assert.deepEqual(results, Array.from({ length: 100 }, (_, i) => i + 1000));
    });

    await t.step("a remote throw arrives as RemoteError with the remote stack", async () => {
      await assert.rejects(
        run(remote, fixture("faults.ts"), "boom", ["remote failure"]),
        (e: unknown) =>
          e instanceof RemoteError && e.remoteName === "TypeError" &&
          e.message.includes("remote failure") && e.remoteStack.includes("boom"),
      );
    });

    await t.step("a missing export and a non-function export give clear errors", async () => {
      await assert.rejects(
        run(remote, fixture("faults.ts"), "nope"),
        (e: unknown) => e instanceof RemoteError && /no export "nope"/.test(e.message),
      );
      await assert.rejects(
        run(remote, fixture("faults.ts"), "notAFunction"),
        (e: unknown) => e instanceof RemoteError && /not a function/.test(e.message),
      );
    });

    await t.step("a never-resolving call times out and the node serves the next call", async () => {
      await assert.rejects(
        run(remote, fixture("faults.ts"), "never", [], { timeoutMs: 300 }),
        TimeoutError,
      );
      assert.equal(await run(remote, fixture("faults.ts"), "add", [2, 3]), 5);
    });

    await t.step(
      "a remotely spawned actor echoes 10,000 messages to a local inbox in order",
      async () => {
        using inbox = node.inbox();
        const pid = await spawn(remote, fixture("actors.ts"), "echo", [inbox.self]);
        assert.equal(pid.node, remote.name);
        const N = 10_000;
        for (let i = 0; i < N; i++) node.send(pid, { i });
        for (let i = 0; i < N; i++) {
          const m = await inbox.receive<{ i: number }>({ timeoutMs: 10_000 });
          assert.equal(m.i, i);
        }
        node.send(pid, "stop");
      },
    );

    await t.step("a monitor on a remote actor sees its exit reason", async () => {
      using inbox = node.inbox();
      const pid = await spawn(remote, fixture("actors.ts"), "crasher", []);
      const ref = inbox.monitor(pid);
      node.send(pid, { crash: "on purpose" });
      const down = await inbox.receive<DownMessage>({
        match: (m) => (m as DownMessage).type === "DOWN",
        timeoutMs: 10_000,
      });
      assert.ok(down.ref.equals(ref));
      const reason = down.reason as { error: { name: string; message: string } };
      assert.equal(reason.error.name, "RangeError");
      assert.equal(reason.error.message, "on purpose");
    });

    await t.step(
      "what user code prints reaches the caller prefixed by the node's name",
      async () => {
        const marker = `printed-${crypto.randomUUID()}`;
        await runFun(remote, (m: string) => console.log(m), [marker]);
        const deadline = Date.now() + 5000;
        while (!output.some((l) => l.includes(marker)) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.ok(output.includes(`[${remote.name}] ${marker}`), output.join("\n"));
      },
    );

    await t.step("run accepts the full name of a connected node", async () => {
      assert.equal(await run(remote.name, fixture("faults.ts"), "add", [1, 1]), 2);
      await assert.rejects(
        run("nobody@localhost", fixture("faults.ts"), "add", [1, 1]),
        NodeDownError,
      );
    });

    await t.step("the typed proxy calls the remote with the module's types", async () => {
      const faults = remote.module<typeof import("../../fixtures/task_runner/faults.ts")>(
        fixture("faults.ts"),
      );
      const sum: number = await faults.add(20, 22);
      assert.equal(sum, 42);
    });
  } finally {
    await host.stop();
  }
});
