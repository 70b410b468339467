import assert from "node:assert/strict";
import { BootstrapError } from "../../../src/errors.ts";
import {
  checkPlatform,
  compareVersions,
  type LocalDeno,
  localDeno,
  parseProbe,
  requiredGlibc,
} from "../../../src/remote/deno_install.ts";
import {
  denoInstallScript,
  denoProbeScript,
  startScript,
} from "../../../src/remote/bootstrap_script.ts";

const DENO: LocalDeno = {
  path: "/usr/bin/deno",
  version: "2.9.6",
  os: "linux",
  arch: "x86_64",
  bytes: 1,
  sha256: "0".repeat(64),
  glibc: "2.27",
};

Deno.test("parseProbe() reads uname, getconf, gzip and sha lines", () => {
  assert.deepEqual(
    parseProbe("os=Linux\narch=x86_64\ngetconf=glibc 2.36\ngunzip=gzip\nsha=1\n"),
    {
      os: "Linux",
      arch: "x86_64",
      libc: { kind: "glibc", version: "2.36" },
      gunzip: "gzip",
      sha: true,
    },
  );
});

Deno.test("parseProbe() falls back to ldd --version for glibc, and tells musl", () => {
  const ldd = (text: string) => parseProbe(`os=Linux\narch=x86_64\ngetconf=\nldd:\n${text}`).libc;
  assert.deepEqual(ldd("ldd (GNU libc) 2.17\nCopyright (C) 2012\n"), {
    kind: "glibc",
    version: "2.17",
  });
  assert.deepEqual(ldd("ldd (Ubuntu GLIBC 2.35-0ubuntu3.8) 2.35\n"), {
    kind: "glibc",
    version: "2.35",
  });
  assert.deepEqual(ldd("musl libc (x86_64)\nVersion 1.2.4\n"), { kind: "musl" });
  assert.equal(ldd("sh: 1: ldd: not found\n"), undefined);
});

Deno.test("checkPlatform() accepts the same platform and a newer glibc, or an unknown libc", () => {
  const server = parseProbe("os=Linux\narch=amd64\ngetconf=glibc 2.28\nsha=1\n");
  checkPlatform(DENO, server, "h");
  checkPlatform(DENO, { ...server, libc: undefined }, "h");
  checkPlatform({ ...DENO, arch: "aarch64" }, { ...server, arch: "arm64" }, "h");
});

Deno.test("checkPlatform() refuses another CPU or OS, an older glibc and musl", () => {
  const server = parseProbe("os=Linux\narch=x86_64\ngetconf=glibc 2.36\nsha=1\n");
  const refuses = (s: typeof server, message: RegExp) =>
    assert.throws(() => checkPlatform(DENO, s, "web-01"), (e: Error) => {
      assert.ok(e instanceof BootstrapError);
      assert.match(e.message, message);
      return true;
    });
  refuses({ ...server, arch: "aarch64" }, /^cannot install Deno on web-01: it is Linux aarch64,/);
  refuses(
    { ...server, os: "Darwin" },
    /it is Darwin x86_64, and the local Deno is built for linux/,
  );
  refuses(
    { ...server, libc: { kind: "glibc", version: "2.17" } },
    /its glibc is 2\.17, and the local Deno needs glibc 2\.27 or newer/,
  );
  refuses({ ...server, libc: { kind: "musl" } }, /it uses musl libc/);
});

Deno.test("compareVersions() compares dotted numbers", () => {
  assert.equal(compareVersions("2.17", "2.27"), -1);
  assert.equal(compareVersions("2.3", "2.27"), -1);
  assert.equal(compareVersions("2.27", "2.27.0"), 0);
  assert.equal(compareVersions("2.36", "2.27"), 1);
});

Deno.test("requiredGlibc() reads the newest GLIBC_ version an ELF file needs, as objdump -T does", async () => {
  const sh = await requiredGlibc("/bin/sh");
  if (Deno.build.os !== "linux") return;
  assert.match(sh ?? "", /^2\.\d+$/);
  const objdump = await new Deno.Command("objdump", { args: ["-T", "/bin/sh"], stdout: "piped" })
    .output().catch(() => undefined);
  if (!objdump?.success) return;
  const versions = [...new TextDecoder().decode(objdump.stdout).matchAll(/GLIBC_(\d+(?:\.\d+)+)/g)]
    .map((m) => m[1]!).sort(compareVersions);
  assert.equal(sh, versions.at(-1));
  assert.equal(await requiredGlibc(import.meta.filename!), undefined);
});

Deno.test("localDeno() describes the running binary", async () => {
  const d = await localDeno();
  assert.equal(d.version, Deno.version.deno);
  assert.equal(d.bytes, (await Deno.stat(Deno.execPath())).size);
  assert.match(d.sha256, /^[0-9a-f]{64}$/);
});

Deno.test("the start script looks for an uploaded Deno after PATH and ~/.deno/bin", () => {
  const s = startScript("a".repeat(64), undefined, { denoVersion: "2.9.6" });
  const home = s.indexOf("$HOME/.deno/bin/deno");
  const cached = s.indexOf("$HOME/.cache/fusion/deno/2.9.6/deno");
  assert.ok(home > 0 && cached > home, s);
  assert.throws(() => startScript("a".repeat(64), undefined, { denoVersion: "1;rm -rf /" }));
});

Deno.test("the probe and install scripts run under /bin/sh", async () => {
  const probe = await new Deno.Command("sh", { args: ["-c", denoProbeScript()], stdout: "piped" })
    .output();
  assert.ok(probe.success);
  const p = parseProbe(new TextDecoder().decode(probe.stdout));
  assert.ok(p.os && p.arch, JSON.stringify(p));
  assert.throws(() => denoInstallScript("2.9.6", "not-a-hash"));
  assert.throws(() => denoInstallScript("../x", "0".repeat(64)));
});

Deno.test("the install script unpacks, checks and caches a binary, and refuses a bad one", async () => {
  const home = await Deno.makeTempDir({ prefix: "fusion-install-script-" });
  try {
    const install = async (body: Uint8Array, sha: string, gunzip?: "gzip" | "gunzip") => {
      const child = new Deno.Command("sh", {
        args: ["-c", denoInstallScript("9.9.9", sha, gunzip ? { gunzip } : {})],
        env: { HOME: home },
        stdin: "piped",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const w = child.stdin.getWriter();
      await w.write(body);
      await w.close();
      return await child.output();
    };
    const good = new TextEncoder().encode("#!/bin/sh\necho deno 9.9.9\n");
    const sha = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", good)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    const gz = new Uint8Array(
      await new Response(new Blob([good]).stream().pipeThrough(new CompressionStream("gzip")))
        .arrayBuffer(),
    );
    const dir = `${home}/.cache/fusion/deno/9.9.9`;

    assert.equal((await install(gz, "0".repeat(64), "gzip")).code, 92); // hash
    assert.equal((await install(good, sha, "gzip")).code, 92); // not gzip
    const broken = new TextEncoder().encode("#!/bin/sh\nexit 3\n");
    const brokenSha = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", broken)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    assert.equal((await install(broken, brokenSha)).code, 94); // does not run
    assert.deepEqual([...Deno.readDirSync(dir)], []);

    assert.equal((await install(gz, sha, "gzip")).code, 0);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["deno"]);
    assert.equal((await Deno.stat(`${dir}/deno`)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    assert.equal(await Deno.readTextFile(`${dir}/deno`), new TextDecoder().decode(good));
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
