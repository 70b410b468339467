import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { findProjectFiles, stripJsonc } from "../../../src/code/_project_files.ts";

Deno.test("stripJsonc() drops comments and trailing commas but not comment-like text in strings", () => {
  const text = `{
    // a comment
    "imports": { "a": "https://x.dev/a.ts", /* inline */ "b": "./b.ts", },
    "s": "/* not a comment */ // nor this",
  }`;
  assert.deepEqual(JSON.parse(stripJsonc(text)), {
    imports: { a: "https://x.dev/a.ts", b: "./b.ts" },
    s: "/* not a comment */ // nor this",
  });
});

Deno.test("findProjectFiles() runs deno info from the module's folder when a deno.json is there", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "src"));
    await Deno.writeTextFile(
      join(dir, "deno.jsonc"),
      `{ "importMap": "./map.json", "compilerOptions": { "experimentalDecorators": true } }`,
    );
    const p = findProjectFiles(pathToFileURL(join(dir, "src", "main.ts")));
    assert.equal(p.cwd, join(dir, "src"));
    assert.equal(p.config, undefined);
    for (const f of ["deno.jsonc", "deno.json", "package.json", "map.json", "src/deno.json"]) {
      assert.ok(p.watch.includes(join(dir, f)), `${f} is watched`);
    }
    assert.ok(p.lockfiles.includes(join(dir, "deno.lock")));
    assert.deepEqual(p.compilerOptions, { experimentalDecorators: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findProjectFiles() uses an explicit config and the files it points at", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = join(dir, "conf.json");
    await Deno.writeTextFile(config, JSON.stringify({ lock: "./my.lock", importMap: "im.json" }));
    const p = findProjectFiles(new URL("https://example.com/mod.ts"), config);
    assert.equal(p.config, config);
    assert.equal(p.cwd, dir);
    assert.ok(p.watch.includes(config));
    assert.ok(p.watch.includes(join(dir, "im.json")));
    assert.ok(p.lockfiles.includes(join(dir, "my.lock")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
