/**
 * Zero-install servers against real sshd: a server user whose PATH has no Deno
 * (sshd SetEnv), fake `uname`/`getconf`/`ldd`/`sha256sum` first on that PATH for
 * the refusals.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { BootstrapError } from "../../../src/errors.ts";
import { localDeno } from "../../../src/remote/deno_install.ts";
import { NodeManager } from "../../../src/remote/mod.ts";
import { hostTest } from "./_helpers.ts";

const VERSION = Deno.version.deno;
const TOOLS = ["sh", "sha256sum", "cut", "cat", "mkdir", "chmod", "mv", "rm", "uname", "getconf"];

const root = await Deno.makeTempDir({ prefix: "fusion-install-deno-test-" });
await Deno.chmod(root, 0o755);
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(root, { recursive: true });
  } catch { /* gone */ }
});

function which(tool: string): string {
  const out = new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "piped" })
    .outputSync();
  return new TextDecoder().decode(out.stdout).trim();
}

/** A PATH directory without deno: symlinks to `tools`, then the scripts in `fakes`. */
async function pathDir(name: string, tools: string[]): Promise<string> {
  const bin = `${root}/${name}`;
  await Deno.mkdir(bin);
  await Deno.chmod(bin, 0o755);
  for (const tool of tools) await Deno.symlink(which(tool), `${bin}/${tool}`);
  return bin;
}

/** Puts a script named `tool` in `bin` (replacing a symlink), or the real tool back when body is undefined. */
async function fake(bin: string, tool: string, body: string | undefined): Promise<void> {
  await Deno.remove(`${bin}/${tool}`).catch(() => {});
  if (body === undefined) {
    if (which(tool)) await Deno.symlink(which(tool), `${bin}/${tool}`);
    return;
  }
  await Deno.writeTextFile(`${bin}/${tool}`, `#!/bin/sh\n${body}\n`);
  await Deno.chmod(`${bin}/${tool}`, 0o755);
}

const withGzip = await pathDir("gzip", [...TOOLS, "gzip"]);
const withoutGzip = await pathDir("plain", TOOLS);
const faked = await pathDir("faked", [...TOOLS, "gzip"]);

async function sha256(path: string): Promise<string> {
  const h = createHash("sha256");
  using f = await Deno.open(path);
  for await (const c of f.readable) h.update(c);
  return h.digest("hex");
}

function logger(): { lines: string[]; log: (l: string) => void } {
  const lines: string[] = [];
  return { lines, log: (l) => lines.push(l) };
}

const uploads = (lines: string[]) => lines.filter((l) => /uploading Deno \d/.test(l));

/** Runs `fn` with XDG_CACHE_HOME (where the local gzip of Deno is kept) set to `dir`. */
async function withLocalCache<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const before = Deno.env.get("XDG_CACHE_HOME");
  Deno.env.set("XDG_CACHE_HOME", dir);
  try {
    return await fn();
  } finally {
    if (before === undefined) Deno.env.delete("XDG_CACHE_HOME");
    else Deno.env.set("XDG_CACHE_HOME", before);
  }
}

hostTest(
  "connect({ installDeno: true }) uploads the local Deno (gzip) to a server without one, and later connects reuse it",
  { sshd: { extraConfig: [`SetEnv PATH=${withGzip}`] }, deadlineMs: 180_000 },
  async ({ host, hub, t }) => {
    const cache = `${host.home}/.cache/fusion/deno/${VERSION}`;
    const local = await localDeno();

    await t.step("without installDeno: Deno was not found", async () => {
      const manager = new NodeManager(host.target(), { node: hub });
      await assert.rejects(manager.connect(), (e: Error) => {
        assert.ok(e instanceof BootstrapError, String(e));
        assert.equal(
          e.message,
          `Deno was not found on ${host.host}; install it or set target.deno`,
        );
        return true;
      });
      await assert.rejects(Deno.stat(cache), Deno.errors.NotFound);
    });

    let inode: number | null = null;
    await t.step("ssh2: uploads, checks and caches it", async () => {
      const { lines, log } = logger();
      const t0 = performance.now();
      // A connect timeout shorter than the upload: the upload does not count against it.
      const manager = new NodeManager(host.target({ sshBackend: "ssh2" }), {
        node: hub,
        installDeno: true,
        connectTimeoutMs: 2000,
        log,
      });
      const remote = await withLocalCache(`${root}/xdg`, () => manager.connect());
      const ms = performance.now() - t0;
      try {
        assert.equal(await remote.runFun(() => Deno.version.deno), VERSION);
        assert.equal(await remote.runFun(() => Deno.execPath()), `${cache}/deno`);
      } finally {
        await manager.disconnect();
      }
      assert.equal(uploads(lines).length, 1, lines.join("\n"));
      assert.match(uploads(lines)[0]!, /, gzip\)/);
      // Compressed once into the local cache, then streamed from there.
      assert.ok(lines.some((l) => l.includes(`compressing Deno ${VERSION} for uploads`)));
      const archives = [...Deno.readDirSync(`${root}/xdg/fusion/deno-upload`)];
      assert.equal(archives.length, 1);
      assert.match(archives[0]!.name, new RegExp(`^deno-${VERSION}-.*\\.gz$`));
      const sent = lines.find((l) => l.includes("sent Deno to"));
      console.log(
        `  ${sent?.replace(/^\[fusion [^\]]*\] /, "")}; connect took ${ms.toFixed(0)} ms`,
      );
      const st = await Deno.stat(`${cache}/deno`);
      inode = st.ino;
      assert.equal(st.uid, host.uid);
      assert.equal(st.mode! & 0o777, 0o700);
      assert.equal(st.size, local.bytes);
      for (const d of [cache, `${host.home}/.cache/fusion/deno`, `${host.home}/.cache/fusion`]) {
        assert.equal((await Deno.stat(d)).mode! & 0o777, 0o700, d);
      }
      assert.equal(await sha256(`${cache}/deno`), local.sha256);
      assert.deepEqual([...Deno.readDirSync(cache)].map((e) => e.name), ["deno"]);
      assert.deepEqual(await host.waitForNoProcesses(), []);
    });

    await t.step("system: a second connect reuses it without uploading", async () => {
      const { lines, log } = logger();
      const manager = new NodeManager(host.target({ sshBackend: "system" }), {
        node: hub,
        installDeno: true,
        log,
      });
      const remote = await manager.connect();
      try {
        assert.equal(await remote.runFun(() => Deno.version.deno), VERSION);
      } finally {
        await manager.disconnect();
      }
      assert.deepEqual(uploads(lines), []);
      assert.ok(!lines.some((l) => l.includes("install deno")), lines.join("\n"));
      assert.equal((await Deno.stat(`${cache}/deno`)).ino, inode);
    });

    await t.step("without installDeno, the uploaded Deno is found too", async () => {
      await using remote = await new NodeManager(host.target(), { node: hub }).connect();
      assert.equal(await remote.runFun(() => Deno.version.deno), VERSION);
    });
    assert.deepEqual(await host.waitForNoProcesses(), []);
  },
);

hostTest(
  "connect({ installDeno: true }) over the system backend uploads uncompressed when the server has no gzip",
  { sshd: { extraConfig: [`SetEnv PATH=${withoutGzip}`] }, deadlineMs: 180_000 },
  async ({ host, hub }) => {
    const { lines, log } = logger();
    const manager = new NodeManager(host.target({ sshBackend: "system" }), {
      node: hub,
      installDeno: true,
      log,
    });
    const remote = await manager.connect();
    try {
      assert.equal(await remote.runFun(() => Deno.version.deno), VERSION);
    } finally {
      await manager.disconnect();
    }
    assert.match(uploads(lines)[0] ?? "", /uncompressed: the server has no gzip/);
    const sent = lines.find((l) => l.includes("sent Deno to"));
    console.log(`  ${sent?.replace(/^\[fusion [^\]]*\] /, "")}`);
    const cached = `${host.home}/.cache/fusion/deno/${VERSION}/deno`;
    assert.equal(await sha256(cached), (await localDeno()).sha256);
    assert.deepEqual(await host.waitForNoProcesses(), []);
  },
);

hostTest(
  "installDeno refuses another platform, an old glibc, musl and a bad upload with BootstrapError",
  { sshd: { extraConfig: [`SetEnv PATH=${faked}`] }, deadlineMs: 120_000 },
  async ({ host, hub, t }) => {
    const local = await localDeno();
    const denoDir = `${host.home}/.cache/fusion/deno`;
    const refused = async (message: RegExp | string) => {
      const manager = new NodeManager(host.target(), { node: hub, installDeno: true });
      await assert.rejects(manager.connect(), (e: Error) => {
        assert.ok(e instanceof BootstrapError, String(e));
        if (typeof message === "string") assert.equal(e.message, message);
        else assert.match(e.message, message);
        return true;
      });
      assert.equal(manager.status(), "disconnected");
      assert.deepEqual(await host.waitForNoProcesses(), []);
    };
    const otherArch = Deno.build.arch === "x86_64" ? "aarch64" : "x86_64";

    await t.step("uname reports another CPU", async () => {
      await fake(faked, "uname", `case "$1" in -m) echo ${otherArch};; *) echo Linux;; esac`);
      await refused(
        `cannot install Deno on ${host.host}: it is Linux ${otherArch}, and the local Deno is built for ${Deno.build.os} ${Deno.build.arch}; install Deno there yourself or set target.deno`,
      );
      await assert.rejects(Deno.stat(denoDir), Deno.errors.NotFound);
    });

    await t.step("uname reports another OS", async () => {
      await fake(faked, "uname", `case "$1" in -m) echo arm64;; *) echo Darwin;; esac`);
      await refused(/: it is Darwin arm64, and the local Deno is built for /);
      await fake(faked, "uname", undefined);
    });

    if (local.glibc === undefined) return; // a Deno that needs no glibc (not Linux)

    await t.step("getconf reports glibc 2.17", async () => {
      await fake(
        faked,
        "getconf",
        `if [ "$1" = GNU_LIBC_VERSION ]; then echo "glibc 2.17"; else exec ${
          which("getconf")
        } "$@"; fi`,
      );
      await refused(
        `cannot install Deno on ${host.host}: its glibc is 2.17, and the local Deno needs glibc ${local.glibc} or newer; install Deno there yourself or set target.deno`,
      );
      await assert.rejects(Deno.stat(denoDir), Deno.errors.NotFound);
    });

    await t.step("no getconf answer, ldd reports glibc 2.17", async () => {
      await fake(faked, "getconf", "exit 1");
      await fake(faked, "ldd", 'echo "ldd (GNU libc) 2.17"; echo "Copyright (C) 2012"');
      await refused(/: its glibc is 2\.17, and the local Deno needs glibc \d+\.\d+ or newer/);
    });

    await t.step("ldd reports musl", async () => {
      await fake(faked, "ldd", 'echo "musl libc (x86_64)" >&2; echo "Version 1.2.4" >&2; exit 1');
      await refused(/: it uses musl libc, and the local Deno needs glibc/);
      await fake(faked, "ldd", undefined);
      await fake(faked, "getconf", undefined);
    });

    // No local cache to keep the gzip in (a file stands where its folder would be):
    // these uploads compress on the way.
    const noCache = `${root}/not-a-dir`;
    await Deno.writeTextFile(noCache, "");

    await t.step("a bad upload fails the hash check and leaves nothing", async () => {
      await fake(faked, "sha256sum", `cat > /dev/null; echo "${"0".repeat(64)}  -"`);
      await withLocalCache(
        noCache,
        () => refused(new RegExp(`^the Deno uploaded to ${host.host} failed its hash check`)),
      );
      assert.deepEqual([...Deno.readDirSync(`${denoDir}/${VERSION}`)], []);
      await fake(faked, "sha256sum", undefined);
    });

    await t.step("without a local cache, the upload compresses on the way", async () => {
      const { lines, log } = logger();
      const manager = new NodeManager(host.target(), { node: hub, installDeno: true, log });
      const remote = await withLocalCache(noCache, () => manager.connect());
      try {
        assert.equal(await remote.runFun(() => Deno.version.deno), VERSION);
      } finally {
        await manager.disconnect();
      }
      assert.ok(lines.some((l) => /compressing per upload/.test(l)), lines.join("\n"));
      assert.match(uploads(lines)[0] ?? "", /, gzip\)/);
      assert.equal(await sha256(`${denoDir}/${VERSION}/deno`), local.sha256);
    });

    await t.step("target.deno set: installDeno does not override it", async () => {
      const manager = new NodeManager(host.target({ deno: "/nonexistent/deno" }), {
        node: hub,
        installDeno: true,
      });
      await assert.rejects(manager.connect(), /Deno was not found on .* at \/nonexistent\/deno/);
    });
  },
);
