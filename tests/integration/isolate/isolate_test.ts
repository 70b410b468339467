import assert from "node:assert/strict";
import {
  connect,
  Node,
  RemoteError,
  type RemoteNode,
  run,
  runFun,
  spawn,
  TimeoutError,
} from "../../../mod.ts";
import { type SshdHost, sshdUnavailable, startSshd } from "../../support/mod.ts";

const fixture = new URL("./_sandboxed.ts", import.meta.url);
const unavailable = await sshdUnavailable();

/** One sshd host, one hub and one connection, torn down whatever happens. */
function isolateTest(
  name: string,
  fn: (c: { host: SshdHost; node: Node; remote: RemoteNode; output: string[] }) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: unavailable !== undefined,
    // ssh2 and sshd leave timers and sockets that end shortly after the test.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const host = await startSshd();
      const output: string[] = [];
      try {
        await using node = await Node.start({ name: "iso-hub", registryPort: 0 });
        await using remote = await connect(host.target(), {
          node,
          output: (line) => output.push(line),
        });
        await fn({ host, node, remote, output });
      } finally {
        await host.stop();
      }
    },
  });
}

const inAgentPid = (remote: RemoteNode) => runFun(remote, () => Deno.pid);

isolateTest(
  "an isolated run without read permission fails with a RemoteError naming it",
  async ({ remote }) => {
    await assert.rejects(
      run(remote, fixture, "readFile", ["/etc/passwd"], { isolate: true }),
      (e: unknown) =>
        e instanceof RemoteError && e.remoteName === "NotCapable" &&
        e.message.includes('Requires read access to "/etc/passwd"') &&
        e.message.includes("permissions.read"),
    );
    // The same call in the agent may read it: isolation is what denied it.
    assert.ok(await run(remote, fixture, "readFile", ["/etc/passwd"]) as number > 0);
  },
);

isolateTest("read: [path] allows that path and no other", async ({ remote }) => {
  const options = { permissions: { read: ["/etc/hostname"] } };
  assert.equal(
    await run(remote, fixture, "readFile", ["/etc/hostname"], options),
    (await Deno.readTextFile("/etc/hostname")).length,
  );
  await assert.rejects(
    run(remote, fixture, "readFile", ["/etc/passwd"], options),
    (e: unknown) => e instanceof RemoteError && e.remoteName === "NotCapable",
  );
});

isolateTest("net is denied unless granted, and granted for the listed host", async ({ remote }) => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const conn of listener) conn.close();
  })().catch(() => {});
  const port = listener.addr.port;
  await assert.rejects(
    run(remote, fixture, "dial", [port], { isolate: true, permissions: { read: true } }),
    (e: unknown) =>
      e instanceof RemoteError && e.remoteName === "NotCapable" &&
      e.message.includes("net access") && e.message.includes("permissions.net"),
  );
  assert.equal(
    await run(remote, fixture, "dial", [port], { permissions: { net: ["127.0.0.1"] } }),
    true,
  );
  listener.close();
  await accepting;
});

isolateTest(
  "a while (true) {} call is killed at timeoutMs and the node stays responsive",
  async ({ host, remote }) => {
    const options = { isolate: true, timeoutMs: 1500 };
    // Same module and permissions: the spin runs in this pooled sandbox.
    const sandbox = await run(remote, fixture, "pid", [], options) as number;
    assert.ok((await host.processes()).some((p) => p.pid === sandbox), "no such sandbox");
    const t0 = performance.now();
    await assert.rejects(
      run(remote, fixture, "spin", [], options),
      (e: unknown) =>
        e instanceof TimeoutError &&
        /took over 1500 ms; its sandbox process was killed/.test(e.message),
    );
    const waited = performance.now() - t0;
    assert.ok(waited >= 1400, `rejected after ${waited} ms`);
    // The node answered at once, and the spinning process is really gone.
    assert.equal(await runFun(remote, () => 1 + 1, [], { timeoutMs: 3000 }), 2);
    assert.ok(!(await host.processes()).some((p) => p.pid === sandbox), "the sandbox still runs");
    // The next isolated call gets a fresh sandbox.
    const next = await run(remote, fixture, "pid", [], options) as number;
    assert.notEqual(next, sandbox);
  },
);

isolateTest(
  "sandboxes are pooled per module and permissions, apart from the agent",
  async ({ remote }) => {
    const first = await run(remote, fixture, "pid", [], { isolate: true });
    const second = await run(remote, fixture, "pid", [], { isolate: true });
    assert.equal(first, second);
    assert.notEqual(first, await inAgentPid(remote));
    // Module state lives as long as the sandbox.
    assert.equal(await run(remote, fixture, "count", [], { isolate: true }), 1);
    assert.equal(await run(remote, fixture, "count", [], { isolate: true }), 2);
    const other = await run(remote, fixture, "pid", [], { permissions: { env: true } });
    assert.notEqual(other, first);
    // Entries in any order are the same permissions.
    const a = await run(remote, fixture, "pid", [], { permissions: { read: ["/a", "/b"] } });
    const b = await run(remote, fixture, "pid", [], { permissions: { read: ["/b", "/a"] } });
    assert.equal(a, b);
  },
);

isolateTest(
  "parallel isolated calls all return in at most maxIsolates sandboxes, which end with the agent",
  async ({ host, remote }) => {
    const results = await Promise.all(
      Array.from(
        { length: 24 },
        (_, i) => run(remote, fixture, "slowAdd", [i, 100, 50], { isolate: true }),
      ),
    ) as [number, number][];
    assert.deepEqual(results.map(([sum]) => sum), Array.from({ length: 24 }, (_, i) => i + 100));
    const pids = new Set(results.map(([, pid]) => pid));
    assert.ok(pids.size > 1 && pids.size <= 8, `${pids.size} sandboxes`);
    // Closing the connection ends the agent and every sandbox with it.
    const server = await host.processes();
    assert.ok([...pids].every((pid) => server.some((p) => p.pid === pid)));
    await remote.close();
    assert.deepEqual(await host.waitForNoProcesses({ timeoutMs: 5000 }), []);
  },
);

isolateTest("runFun isolates too, and names a captured variable it lacks", async ({ remote }) => {
  assert.equal(await runFun(remote, (a: number, b: number) => a + b, [2, 3], { isolate: true }), 5);
  assert.notEqual(
    await runFun(remote, () => Deno.pid, [], { isolate: true }),
    await inAgentPid(remote),
  );
  await assert.rejects(
    runFun(remote, () => Deno.env.get("HOME"), [], { isolate: true }),
    (e: unknown) =>
      e instanceof RemoteError && e.remoteName === "NotCapable" && e.message.includes("env"),
  );
  const local = 1;
  await assert.rejects(
    runFun(remote, () => local + 1, [], { isolate: true }),
    (e: unknown) =>
      e instanceof RemoteError && e.remoteName === "ReferenceError" &&
      e.message.includes('"local"'),
  );
  await assert.rejects(
    runFun(remote, () => () => 1, [], { isolate: true }),
    (e: unknown) => e instanceof RemoteError && e.remoteName === "DataCloneError",
  );
});

isolateTest(
  "what a sandbox prints reaches the caller, and a failing module says why",
  async ({ remote, output }) => {
    assert.equal(
      await run(remote, fixture, "say", ["hello from the sandbox"], { isolate: true }),
      "hello from the sandbox",
    );
    for (let i = 0; i < 100 && !output.some((l) => l.includes("hello from the sandbox")); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(output.some((l) => l.includes("hello from the sandbox")), output.join("\n"));
    await assert.rejects(
      run(remote, new URL("./_broken.ts", import.meta.url), "never", [], { isolate: true }),
      (e: unknown) =>
        e instanceof RemoteError && e.remoteName === "RangeError" &&
        e.message.includes("fails while loading"),
    );
    // A bad export name is named as in the agent.
    await assert.rejects(
      run(remote, fixture, "nope", [], { isolate: true }),
      (e: unknown) => e instanceof RemoteError && /no export "nope"/.test(e.message),
    );
  },
);

isolateTest(
  "spawn refuses isolate, and bad permissions are refused before sending",
  async ({ node, remote }) => {
    await assert.rejects(
      spawn(remote, fixture, "count", [], { isolate: true }),
      (e: unknown) => e instanceof TypeError && e.message.includes("cannot isolate an actor"),
    );
    await assert.rejects(
      run(remote, fixture, "pid", [], { permissions: { disk: true } as never }),
      (e: unknown) => e instanceof TypeError && e.message.includes('unknown permission "disk"'),
    );
    await assert.rejects(
      run(remote, fixture, "pid", [], { permissions: { read: ["/a,b"] } }),
      (e: unknown) => e instanceof TypeError && e.message.includes("comma"),
    );
    await assert.rejects(
      run(remote, fixture, "pid", [], { isolate: false, permissions: {} }),
      TypeError,
    );
    // The agent checks for itself too.
    const hash = "0".repeat(64);
    await assert.rejects(
      node.request(remote.name, "spawn", { hash, fn: "f", args: [], isolate: {} }),
      (e: unknown) => e instanceof RemoteError && e.message.includes("cannot isolate an actor"),
    );
    await assert.rejects(
      node.request(remote.name, "run.isolated", {
        hash,
        fn: "f",
        args: [],
        isolate: { timeoutMs: -1 },
      }),
      (e: unknown) => e instanceof RemoteError && e.message.includes("timeoutMs"),
    );
    // The plain services never take isolate: an old agent would fail, not run unsandboxed.
    await assert.rejects(
      node.request(remote.name, "run", { hash, fn: "f", args: [], isolate: {} }),
      (e: unknown) => e instanceof RemoteError && e.message.includes("run.isolated"),
    );
    await assert.rejects(
      node.request(remote.name, "runFun.isolated", {
        source: "() => 1",
        args: [],
        isolate: { timeoutMs: 1000, permissions: { read: [7] } },
      }),
      (e: unknown) => e instanceof RemoteError && e.message.includes("non-string"),
    );
  },
);
