import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundleModule } from "../../../src/code/mod.ts";
import { callValue, copyFixture, mustRun, removeDir } from "./_helpers.ts";

const EXPECTED_FACTS = {
  ms: 120_000,
  debugIsFunction: true,
  debugNamespace: "fusion:test",
  idLength: 12,
  local: { base: "file.txt", readFileSync: "function", dirname: "string" },
};

function assertNpmModules(modules: string[], dir: string): void {
  for (
    const m of [
      "npm:ms@2.1.3/index.js",
      "npm:debug@4.4.3/src/index.js",
      "npm:debug@4.4.3/src/node.js",
      "npm:nanoid@5.1.6/index.js",
      pathToFileURL(join(dir, "local.cjs")).href,
      pathToFileURL(join(dir, "main.ts")).href,
    ]
  ) assert.ok(modules.includes(m), `${m} in ${modules.join(", ")}`);
}

Deno.test("bundleModule() bundles npm packages from Deno's cache when there is no node_modules folder", async () => {
  const dir = await copyFixture("npm");
  const cacheDir = await Deno.makeTempDir();
  try {
    const b = await bundleModule(join(dir, "main.ts"), { cacheDir });
    assertNpmModules(b.modules, dir);
    await assert.rejects(Deno.stat(join(dir, "node_modules")), Deno.errors.NotFound);
    const code = new TextDecoder().decode(b.code);
    assert.doesNotMatch(code, /["']npm:/, "no npm: import is left");
    assert.match(code, /from "node:crypto"/, "the ESM package's node:crypto import stays external");
    assert.match(code, /__require\("node:tty"\)/, `a bare "tty" require becomes "node:tty"`);
    assert.deepEqual(await callValue(b.code, "facts"), EXPECTED_FACTS);
  } finally {
    await removeDir(dir);
    await removeDir(cacheDir);
  }
});

Deno.test("bundleModule() bundles npm packages from the project's node_modules folder", async () => {
  const dir = await copyFixture("npm");
  const cacheDir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "deno.json"), JSON.stringify({ nodeModulesDir: "auto" }));
    await mustRun(Deno.execPath(), ["install", "--entrypoint", "main.ts"], { cwd: dir });
    const b = await bundleModule(join(dir, "main.ts"), { cacheDir });
    assertNpmModules(b.modules, dir);
    const code = new TextDecoder().decode(b.code);
    assert.ok(
      code.includes(
        `${dir.slice(1)}/node_modules/.deno/debug@4.4.3/node_modules/debug/src/node.js`,
      ),
      "debug comes from the project's node_modules",
    );
    assert.deepEqual(await callValue(b.code, "facts"), EXPECTED_FACTS);
  } finally {
    await removeDir(dir);
    await removeDir(cacheDir);
  }
});

Deno.test("bundleModule() bundles a CommonJS package from a package.json project's node_modules", async () => {
  const dir = await copyFixture("byonm");
  const cacheDir = await Deno.makeTempDir();
  try {
    // Laid out as npm would: node_modules/<name>, no Deno involvement.
    await Deno.mkdir(join(dir, "node_modules"));
    await Deno.rename(join(dir, "cjs-fixture"), join(dir, "node_modules", "cjs-fixture"));
    const b = await bundleModule(join(dir, "main.ts"), { cacheDir });
    assert.ok(b.modules.includes("npm:cjs-fixture@1.0.0/lib/index.js"), b.modules.join(", "));
    assert.ok(b.modules.includes("npm:cjs-fixture@1.0.0/lib/double.js"), b.modules.join(", "));
    assert.deepEqual(await callValue(b.code, "facts"), {
      eol: true,
      joined: "a/b",
      doubled: 42,
      filename: "string",
    });
  } finally {
    await removeDir(dir);
    await removeDir(cacheDir);
  }
});
