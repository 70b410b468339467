import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundleModule, sha256Hex } from "../../../src/code/mod.ts";
import { BundleError } from "../../../src/errors.ts";
import { callBundle, callValue, copyFixture, removeDir } from "./_helpers.ts";

Deno.test("bundleModule() bundles a chain of relative imports into one module that runs on its own", async () => {
  const dir = await copyFixture("chain");
  const cacheDir = await Deno.makeTempDir();
  try {
    const b = await bundleModule(pathToFileURL(join(dir, "main.ts")), { cacheDir });
    assert.equal(b.hash, sha256Hex(b.code));
    assert.equal(b.entry, pathToFileURL(join(dir, "main.ts")).href);
    assert.deepEqual(
      [...b.modules].sort(),
      ["a.ts", "b.ts", "c.ts", "main.ts"].map((f) => pathToFileURL(join(dir, f)).href),
    );
    assert.equal(await callValue(b.code, "describe"), "main>a>b>c1");
    const code = new TextDecoder().decode(b.code);
    assert.doesNotMatch(code, /^\s*import .* from "\.\//m, "no relative import is left");
  } finally {
    await removeDir(dir);
    await removeDir(cacheDir);
  }
});

Deno.test("bundleModule() keeps error class names, and the source map points remote stacks at the original file", async () => {
  const dir = await copyFixture("chain");
  const cacheDir = await Deno.makeTempDir();
  try {
    const b = await bundleModule(join(dir, "main.ts"), { cacheDir });
    const r = await callBundle(b.code, "fail");
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.error.constructor, "ChainError");
    assert.equal(r.error.message, "broken chain");
    assert.match(
      r.error.stack,
      new RegExp(`${pathToFileURL(join(dir, "main.ts")).href}:\\d+:\\d+`),
    );
  } finally {
    await removeDir(dir);
    await removeDir(cacheDir);
  }
});

Deno.test("bundleModule() accepts a path relative to the working directory and a URL string", async () => {
  const dir = await copyFixture("chain");
  const cacheDir = await Deno.makeTempDir();
  const cwd = Deno.cwd();
  try {
    Deno.chdir(dir);
    const byPath = await bundleModule("./main.ts", { cacheDir });
    const byString = await bundleModule(pathToFileURL(join(dir, "main.ts")).href, { cacheDir });
    assert.equal(byPath.entry, byString.entry);
    assert.equal(byPath.hash, byString.hash);
  } finally {
    Deno.chdir(cwd);
    await removeDir(dir);
    await removeDir(cacheDir);
  }
});

Deno.test("bundleModule() resolves import map aliases from the module's deno.json", async () => {
  const dir = await copyFixture("import_map");
  const cacheDir = await Deno.makeTempDir();
  try {
    // Run from elsewhere: the deno.json next to the module must still apply.
    const b = await bundleModule(pathToFileURL(join(dir, "main.ts")), { cacheDir });
    assert.ok(b.modules.includes(pathToFileURL(join(dir, "lib/greet/hello.ts")).href));
    assert.ok(b.modules.includes(pathToFileURL(join(dir, "lib/sum.ts")).href));
    assert.equal(await callValue(b.code, "greet", ["fusion", [1, 2, 3]]), "hello fusion 6");
  } finally {
    await removeDir(dir);
    await removeDir(cacheDir);
  }
});

Deno.test("bundleModule() resolves with an explicit config file", async () => {
  const dir = await copyFixture("import_map");
  const cacheDir = await Deno.makeTempDir();
  try {
    const other = join(dir, "other.json");
    await Deno.writeTextFile(
      other,
      JSON.stringify({ imports: { "@greet/": "./lib/greet/", "sum": "./lib/other_sum.ts" } }),
    );
    const b = await bundleModule(join(dir, "main.ts"), { cacheDir, config: other });
    assert.equal(await callValue(b.code, "greet", ["x", [5, 5]]), "hello x -2");
  } finally {
    await removeDir(dir);
    await removeDir(cacheDir);
  }
});

/** A temp project folder with an empty deno.json, so the repository's config is not used. */
async function tempProject(): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(join(dir, "deno.json"), "{}");
  return dir;
}

Deno.test("bundleModule() rejects a missing import with a BundleError naming the import and its importer", async () => {
  const dir = await tempProject();
  try {
    await Deno.writeTextFile(
      join(dir, "ok.ts"),
      `import { gone } from "./gone.ts";\nexport const f = () => gone;\n`,
    );
    await Deno.writeTextFile(join(dir, "main.ts"), `export { f } from "./ok.ts";\n`);
    await assert.rejects(
      bundleModule(join(dir, "main.ts"), { diskCache: false }),
      (e: unknown) => {
        assert.ok(e instanceof BundleError);
        assert.match(e.message, /"\.\/gone\.ts"/);
        assert.ok(
          e.message.includes(`imported by ${pathToFileURL(join(dir, "ok.ts")).href}`),
          e.message,
        );
        return true;
      },
    );
  } finally {
    await removeDir(dir);
  }
});

Deno.test("bundleModule() rejects an unmapped bare import and a missing entry module with a BundleError", async () => {
  const dir = await tempProject();
  try {
    await Deno.writeTextFile(
      join(dir, "main.ts"),
      `import x from "not-mapped";\nexport const f = () => x;\n`,
    );
    await assert.rejects(bundleModule(join(dir, "main.ts"), { diskCache: false }), (e: unknown) => {
      assert.ok(e instanceof BundleError);
      assert.match(e.message, /"not-mapped" imported by file:\/\//);
      return true;
    });
    await assert.rejects(
      bundleModule(join(dir, "absent.ts"), { diskCache: false }),
      (e: unknown) => e instanceof BundleError && /absent\.ts/.test(e.message),
    );
  } finally {
    await removeDir(dir);
  }
});

Deno.test("bundleModule() keeps node: built-ins and Deno's APIs external", async () => {
  const dir = await tempProject();
  const cacheDir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      join(dir, "main.ts"),
      [
        `import { join } from "node:path";`,
        `import os from "node:os";`,
        `export const f = () => [join("a", "b"), typeof os.hostname(), typeof Deno.pid];`,
      ].join("\n"),
    );
    const b = await bundleModule(join(dir, "main.ts"), { cacheDir });
    const code = new TextDecoder().decode(b.code);
    assert.match(code, /from "node:path"/);
    assert.match(code, /from "node:os"/);
    assert.deepEqual(await callValue(b.code, "f"), ["a/b", "string", "number"]);
  } finally {
    await removeDir(dir);
    await removeDir(cacheDir);
  }
});
