import assert from "node:assert/strict";
import { join } from "node:path";
import { bundleModule } from "../../../src/code/mod.ts";
import { callValue, copyFixture, mustRun, removeDir } from "./_helpers.ts";

const REPO_CONFIG = new URL("../../../deno.json", import.meta.url).pathname;
const CODE_MOD = new URL("../../../src/code/mod.ts", import.meta.url).href;

/** Runs a script in its own process with the given permission flags and returns its JSON output. */
async function runScript(
  source: string,
  flags: string[],
  args: string[],
): Promise<Record<string, unknown>> {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "script.ts");
    await Deno.writeTextFile(file, source);
    const out = await mustRun(Deno.execPath(), [
      "run",
      "--config",
      REPO_CONFIG,
      ...flags,
      file,
      ...args,
    ]);
    return JSON.parse(out.trim().split("\n").at(-1)!);
  } finally {
    await removeDir(dir);
  }
}

Deno.test("a warm bundleModule() returns the same bundle without running deno info or esbuild", async () => {
  const dir = await copyFixture("npm");
  const cacheDir = await Deno.makeTempDir();
  try {
    const script = `
      import { bundleModule } from "${CODE_MOD}";
      const [main, cacheDir] = Deno.args;
      const cold = await bundleModule(main, { cacheDir });
      // From here on, spawning deno info or esbuild would throw.
      Deno.permissions.revokeSync({ name: "run" });
      const t0 = performance.now();
      const warm = await bundleModule(main, { cacheDir });
      const ms = performance.now() - t0;
      console.log(JSON.stringify({ same: warm.hash === cold.hash, shared: warm.code === cold.code, ms }));
    `;
    const r = await runScript(script, ["-A"], [join(dir, "main.ts"), cacheDir]);
    assert.equal(r.same, true);
    assert.equal(r.shared, true, "the warm call serves the cached bytes");
  } finally {
    await removeDir(dir);
    await removeDir(cacheDir);
  }
});

Deno.test("a new process reuses the on-disk bundle cache without running deno info or esbuild", async () => {
  const dir = await copyFixture("chain");
  const cacheDir = await Deno.makeTempDir();
  try {
    const b = await bundleModule(join(dir, "main.ts"), { cacheDir });
    const script = `
      import { bundleModule } from "${CODE_MOD}";
      const b = await bundleModule(Deno.args[0], { cacheDir: Deno.args[1] });
      console.log(JSON.stringify({ hash: b.hash, modules: b.modules }));
    `;
    // No --allow-run: a rebuild would fail with NotCapable.
    const r = await runScript(script, ["--allow-read", "--allow-write", "--allow-env"], [
      join(dir, "main.ts"),
      cacheDir,
    ]);
    assert.equal(r.hash, b.hash);
    assert.deepEqual(r.modules, b.modules);
  } finally {
    await removeDir(dir);
    await removeDir(cacheDir);
  }
});

Deno.test("editing a module right after a build gives a new hash and the new code runs", async () => {
  const dir = await copyFixture("chain");
  const cacheDir = await Deno.makeTempDir();
  try {
    const main = join(dir, "main.ts");
    const first = await bundleModule(main, { cacheDir });
    assert.equal(await callValue(first.code, "describe"), "main>a>b>c1");
    // Same size, immediately: size and a coarse mtime may not change, content does.
    const c = join(dir, "c.ts");
    await Deno.writeTextFile(c, (await Deno.readTextFile(c)).replace(`"c1"`, `"c2"`));
    const second = await bundleModule(main, { cacheDir });
    assert.notEqual(second.hash, first.hash);
    assert.equal(await callValue(second.code, "describe"), "main>a>b>c2");
    // And an unchanged module after the edit is served as is.
    const third = await bundleModule(main, { cacheDir });
    assert.equal(third.hash, second.hash);
    assert.equal(third.code, second.code);
  } finally {
    await removeDir(dir);
    await removeDir(cacheDir);
  }
});

Deno.test("editing the import map in deno.json rebuilds with the new mapping", async () => {
  const dir = await copyFixture("import_map");
  const cacheDir = await Deno.makeTempDir();
  try {
    const main = join(dir, "main.ts");
    const first = await bundleModule(main, { cacheDir });
    assert.equal(await callValue(first.code, "greet", ["a", [1, 2]]), "hello a 3");
    await Deno.writeTextFile(
      join(dir, "deno.json"),
      JSON.stringify({ imports: { "@greet/": "./lib/greet/", "sum": "./lib/other_sum.ts" } }),
    );
    const second = await bundleModule(main, { cacheDir });
    assert.notEqual(second.hash, first.hash);
    assert.equal(await callValue(second.code, "greet", ["a", [1, 2]]), "hello a -2");
  } finally {
    await removeDir(dir);
    await removeDir(cacheDir);
  }
});

Deno.test("bundleModule() with reload rebuilds an unchanged module to the same hash", async () => {
  const dir = await copyFixture("chain");
  const cacheDir = await Deno.makeTempDir();
  try {
    const main = join(dir, "main.ts");
    const first = await bundleModule(main, { cacheDir });
    const again = await bundleModule(main, { cacheDir, reload: true });
    assert.notEqual(again.code, first.code, "a fresh build, not the cached bytes");
    assert.equal(again.hash, first.hash);
  } finally {
    await removeDir(dir);
    await removeDir(cacheDir);
  }
});

Deno.test("concurrent bundleModule() calls for one module share one build", async () => {
  const dir = await copyFixture("chain");
  const cacheDir = await Deno.makeTempDir();
  try {
    const main = join(dir, "main.ts");
    const all = await Promise.all(
      Array.from({ length: 5 }, () => bundleModule(main, { cacheDir })),
    );
    for (const b of all) assert.equal(b.code, all[0]!.code);
  } finally {
    await removeDir(dir);
    await removeDir(cacheDir);
  }
});

Deno.test("bundles of different modules can be built at the same time", async () => {
  const a = await copyFixture("chain");
  const b = await copyFixture("import_map");
  const cacheDir = await Deno.makeTempDir();
  try {
    const [x, y] = await Promise.all([
      bundleModule(join(a, "main.ts"), { cacheDir }),
      bundleModule(join(b, "main.ts"), { cacheDir }),
    ]);
    assert.equal(await callValue(x.code, "describe"), "main>a>b>c1");
    assert.equal(await callValue(y.code, "greet", ["b", [2]]), "hello b 2");
  } finally {
    await removeDir(a);
    await removeDir(b);
    await removeDir(cacheDir);
  }
});
