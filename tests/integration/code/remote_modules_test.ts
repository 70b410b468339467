import assert from "node:assert/strict";
import { join } from "node:path";
import { bundleModule } from "../../../src/code/mod.ts";
import { sha256Hex } from "../../../src/code/sha256_hex.ts";
import { callValue, copyFixture, mustRun, removeDir, serveDir } from "./_helpers.ts";

/** Sets environment variables for the duration of `fn` (bundleModule's `deno info` inherits them). */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const old = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(old)) {
      v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    }
  }
}

Deno.test("bundleModule() bundles http: modules from Deno's cache with the server gone", async () => {
  const root = await copyFixture("remote_server");
  const user = await copyFixture("remote_user");
  const denoDir = await Deno.makeTempDir();
  const cacheDir = await Deno.makeTempDir();
  const server = serveDir(root);
  let closed = false;
  try {
    const main = join(user, "main.ts");
    await Deno.writeTextFile(
      main,
      (await Deno.readTextFile(main)).replace("__BASE__", server.base),
    );
    await mustRun(Deno.execPath(), ["cache", "--allow-import", main], {
      env: { DENO_DIR: denoDir },
    });
    assert.ok(server.hits.includes("/lib/twice.ts"));
    await server.close();
    closed = true;
    const b = await withEnv({ DENO_DIR: denoDir }, () => bundleModule(main, { cacheDir }));
    assert.ok(b.modules.includes(`${server.base}/lib/mod.ts`), b.modules.join(", "));
    assert.ok(b.modules.includes(`${server.base}/lib/twice.ts`), b.modules.join(", "));
    assert.equal(await callValue(b.code, "loud", ["hey"]), "HEY HEY");
  } finally {
    if (!closed) await server.close();
    await removeDir(root);
    await removeDir(user);
    await removeDir(denoDir);
    await removeDir(cacheDir);
  }
});

Deno.test("bundleModule() bundles jsr: packages from Deno's cache (a loopback JSR registry)", async () => {
  const root = await copyFixture("jsr_registry");
  const user = await copyFixture("jsr_user");
  const denoDir = await Deno.makeTempDir();
  const cacheDir = await Deno.makeTempDir();
  const pkg = join(root, "@fusion-test", "greet");
  const manifest: Record<string, { size: number; checksum: string }> = {};
  for (const f of ["mod.ts", "punct.ts"]) {
    const bytes = await Deno.readFile(join(pkg, "1.0.0", f));
    manifest[`/${f}`] = { size: bytes.length, checksum: `sha256-${sha256Hex(bytes)}` };
  }
  await Deno.writeTextFile(
    join(pkg, "meta.json"),
    JSON.stringify({
      scope: "fusion-test",
      name: "greet",
      latest: "1.0.0",
      versions: { "1.0.0": {} },
    }),
  );
  await Deno.writeTextFile(
    join(pkg, "1.0.0_meta.json"),
    JSON.stringify({ manifest, exports: { ".": "./mod.ts" } }),
  );
  const server = serveDir(root);
  let closed = false;
  try {
    const env = { DENO_DIR: denoDir, JSR_URL: `${server.base}/` };
    const main = join(user, "main.ts");
    await mustRun(Deno.execPath(), ["cache", "--allow-import", main], { cwd: user, env });
    await server.close();
    closed = true;
    const b = await withEnv(env, () => bundleModule(main, { cacheDir }));
    assert.ok(
      b.modules.includes(`${server.base}/@fusion-test/greet/1.0.0/mod.ts`),
      b.modules.join(", "),
    );
    assert.ok(b.modules.includes(`${server.base}/@fusion-test/greet/1.0.0/punct.ts`));
    assert.equal(await callValue(b.code, "welcome", ["node"]), "welcome, node!");
  } finally {
    if (!closed) await server.close();
    await removeDir(root);
    await removeDir(user);
    await removeDir(denoDir);
    await removeDir(cacheDir);
  }
});
