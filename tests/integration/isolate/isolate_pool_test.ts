import assert from "node:assert/strict";
import { TimeoutError } from "../../../src/errors.ts";
import { normalizePermissions, permissionFlags } from "../../../src/agent/isolate_permissions.ts";
import { IsolatePool } from "../../../src/agent/isolate_pool.ts";

const MODULE = `
export const pid = () => Deno.pid;
export const spin = () => { while (true) {} };
export const exit = () => Deno.exit(7);
export const stray = () => {
  Deno.stdout.writeSync(new TextEncoder().encode("FUS not a frame\\n"));
  return "answered";
};
export const wait = (ms) => new Promise((r) => setTimeout(() => r(Deno.pid), ms));
`;

const spec = (permissions: object = {}, timeoutMs = 10_000) => ({
  permissions: normalizePermissions(permissions),
  timeoutMs,
});

const alive = (pid: number) => {
  try {
    return !Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]?.startsWith("Z");
  } catch {
    return false;
  }
};

/** A pool over a module in a temp dir; both gone afterwards. */
async function withPool(
  options: { maxProcesses?: number; idleMs?: number },
  fn: (pool: IsolatePool, path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/mod.js`;
  await Deno.writeTextFile(path, MODULE);
  const pool = new IsolatePool(options);
  try {
    await fn(pool, path);
  } finally {
    pool.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("permissionFlags grants exactly what is listed and denies remote imports", () => {
  assert.deepEqual(permissionFlags(normalizePermissions({})), ["--deny-import"]);
  assert.deepEqual(
    permissionFlags(normalizePermissions({ read: ["/b", "/a", "/a"], net: true, env: [] })),
    ["--allow-net", "--allow-read=/a,/b", "--deny-import"],
  );
  assert.deepEqual(
    permissionFlags(normalizePermissions({ import: ["jsr.io"] })),
    ["--allow-import=jsr.io"],
  );
  assert.throws(() => normalizePermissions({ hrtime: true }), /unknown permission "hrtime"/);
  assert.throws(() => normalizePermissions([]), TypeError);
  assert.throws(() => normalizePermissions({ read: "/etc" }), /true, false or a list/);
});

Deno.test("a pool queues calls beyond its limit and makes room across permissions", async () => {
  await withPool({ maxProcesses: 2 }, async (pool, path) => {
    const pids = await Promise.all(
      Array.from({ length: 6 }, () => pool.run(path, { fn: "wait", args: [50] }, spec())),
    ) as number[];
    assert.equal(new Set(pids).size, 2);
    assert.equal(pool.stats().processes, 2);
    // Another permission set takes the place of an idle sandbox.
    await pool.run(path, { fn: "pid", args: [] }, spec({ env: true }));
    assert.ok(pool.stats().processes <= 2);
    assert.equal(pool.stats().queued, 0);
  });
});

Deno.test("a call that waits too long for a sandbox times out without running", async () => {
  await withPool({ maxProcesses: 1 }, async (pool, path) => {
    const busy = pool.run(path, { fn: "wait", args: [1500] }, spec());
    await assert.rejects(
      pool.run(path, { fn: "pid", args: [] }, spec({}, 300)),
      (e: unknown) => e instanceof TimeoutError && /waited over 300 ms/.test(e.message),
    );
    assert.equal(typeof await busy, "number");
  });
});

Deno.test("a spinning sandbox is killed at its timeout and replaced", async () => {
  await withPool({}, async (pool, path) => {
    const pid = await pool.run(path, { fn: "pid", args: [] }, spec()) as number;
    await assert.rejects(pool.run(path, { fn: "spin", args: [] }, spec({}, 300)), TimeoutError);
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!alive(pid), "the spinning process is still alive");
    assert.notEqual(await pool.run(path, { fn: "pid", args: [] }, spec()), pid);
  });
});

Deno.test("a sandbox that exits mid-call fails that call only", async () => {
  await withPool({}, async (pool, path) => {
    await assert.rejects(
      pool.run(path, { fn: "exit", args: [] }, spec()),
      /the sandbox process exited \(code 7\)/,
    );
    assert.equal(typeof await pool.run(path, { fn: "pid", args: [] }, spec()), "number");
  });
});

Deno.test("stray bytes on a sandbox's stdout do not break its answers", async () => {
  await withPool({}, async (pool, path) => {
    assert.equal(await pool.run(path, { fn: "stray", args: [] }, spec()), "answered");
    assert.equal(await pool.run(path, { fn: "stray", args: [] }, spec()), "answered");
  });
});

Deno.test("an idle sandbox is stopped after idleMs", async () => {
  await withPool({ idleMs: 100 }, async (pool, path) => {
    const pid = await pool.run(path, { fn: "pid", args: [] }, spec()) as number;
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!alive(pid));
    assert.equal(pool.stats().processes, 0);
  });
});
