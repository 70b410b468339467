import assert from "node:assert/strict";
import {
  AuthError,
  BootstrapError,
  ConnectError,
  HostKeyError,
  TimeoutError,
} from "../../../src/errors.ts";
import { NodeManager } from "../../../src/remote/mod.ts";
import { generateKey, knownHostsText, makeUserKey } from "../../support/mod.ts";
import { BACKENDS, hostTest, localDescendants, localListeners } from "./_helpers.ts";

/** A world-readable temp dir (the test user must reach it), removed by `cleanup`. */
async function openDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "fusion-remote-test-" });
  await Deno.chmod(dir, 0o755);
  return { dir, cleanup: () => Deno.remove(dir, { recursive: true }).catch(() => {}) };
}

/** Writes an executable script. */
async function script(path: string, body: string): Promise<string> {
  await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

/** A PATH directory with the tools the start and install scripts use, and no deno. */
async function pathWithoutDeno(dir: string): Promise<string> {
  const bin = `${dir}/bin`;
  await Deno.mkdir(bin);
  await Deno.chmod(bin, 0o755);
  for (const tool of ["sh", "sha256sum", "cut", "cat", "mkdir", "chmod", "mv", "rm"]) {
    const found = new Deno.Command("sh", {
      args: ["-c", `command -v ${tool}`],
      stdout: "piped",
    }).outputSync();
    await Deno.symlink(new TextDecoder().decode(found.stdout).trim(), `${bin}/${tool}`);
  }
  return bin;
}

const noDeno = await openDir();
const noDenoPath = await pathWithoutDeno(noDeno.dir);
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(noDeno.dir, { recursive: true });
  } catch { /* gone */ }
});

hostTest(
  "a server whose PATH has no deno gives BootstrapError: Deno was not found on HOST; install it or set target.deno",
  { sshd: { extraConfig: [`SetEnv PATH=${noDenoPath}`] } },
  async ({ host, hub, t }) => {
    for (const kind of BACKENDS) {
      await t.step(kind, async () => {
        const manager = new NodeManager(host.target({ sshBackend: kind }), { node: hub });
        await assert.rejects(manager.connect(), (e: Error) => {
          assert.ok(e instanceof BootstrapError, String(e));
          assert.equal(
            e.message,
            `Deno was not found on ${host.host}; install it or set target.deno`,
          );
          return true;
        });
        assert.equal(manager.status(), "disconnected");
        assert.deepEqual(await host.waitForNoProcesses(), []);
      });
    }

    await t.step("Deno in ~/.deno/bin is found when PATH has none", async () => {
      await Deno.mkdir(`${host.home}/.deno/bin`, { recursive: true });
      await Deno.symlink(Deno.execPath(), `${host.home}/.deno/bin/deno`);
      await using remote = await new NodeManager(host.target(), { node: hub }).connect();
      assert.equal((await remote.info()).deno, Deno.version.deno);
    });
  },
);

hostTest(
  "target.deno naming a missing file gives BootstrapError naming that path",
  {},
  async ({ host, hub }) => {
    const manager = new NodeManager(host.target({ deno: "/nonexistent/deno" }), { node: hub });
    await assert.rejects(manager.connect(), (e: Error) => {
      assert.ok(e instanceof BootstrapError, String(e));
      assert.match(e.message, /^Deno was not found on 127\.0\.0\.1 at \/nonexistent\/deno/);
      assert.match(e.message, /target\.deno/);
      return true;
    });
    assert.deepEqual(await host.waitForNoProcesses(), []);
  },
);

const OLD_DENO = Deno.env.get("FUSION_TEST_OLD_DENO") ??
  "/var/cache/fusion-test/deno-1.46.3/deno";
const oldDenoMissing = await Deno.stat(OLD_DENO).then(() => false, () => true);
if (oldDenoMissing) {
  console.error(
    `\n!!!!! old-Deno test skipped: no Deno 1.x at ${OLD_DENO} (set FUSION_TEST_OLD_DENO, or ` +
      "`npm pack @deno/linux-x64-glibc@1.46.3` and put its deno binary there) !!!!!\n",
  );
}

hostTest(
  "a Deno too old for the agent (a real Deno 1.46) is refused with a clear message",
  { ignore: oldDenoMissing },
  async ({ host, hub }) => {
    const manager = new NodeManager(host.target({ deno: OLD_DENO }), { node: hub });
    await assert.rejects(manager.connect(), (e: Error) => {
      assert.ok(e instanceof BootstrapError, String(e));
      assert.equal(
        e.message,
        `the Deno on 127.0.0.1 at ${OLD_DENO} is too old: 1.46.3; Fusion needs 2.0.0 or newer (upgrade it or set target.deno)`,
      );
      assert.match(e.stderr, /Deno 1\.46\.3 is too old/);
      return true;
    });
    assert.deepEqual(await host.waitForNoProcesses(), []);
  },
);

hostTest(
  "a Deno that fails at start gives BootstrapError carrying its stderr",
  {},
  async ({ host, hub }) => {
    const { dir, cleanup } = await openDir();
    try {
      const fake = await script(`${dir}/deno`, 'echo "boom: no such thing" >&2\nexit 7');
      const manager = new NodeManager(host.target({ deno: fake }), { node: hub });
      await assert.rejects(manager.connect(), (e: Error) => {
        assert.ok(e instanceof BootstrapError, String(e));
        assert.match(e.message, /starting the agent on 127\.0\.0\.1 failed \(exit status 7\)/);
        assert.match(e.message, /boom: no such thing/);
        assert.match(e.stderr, /boom: no such thing/);
        return true;
      });
      assert.deepEqual(await host.waitForNoProcesses(), []);
    } finally {
      await cleanup();
    }
  },
);

hostTest(
  "a start step that hangs gives TimeoutError naming the step, and leaves nothing behind",
  {},
  async ({ host, hub, t }) => {
    const { dir, cleanup } = await openDir();
    try {
      // Takes its input and never answers, like an agent stuck before its first frame.
      const fake = await script(`${dir}/deno`, "exec cat > /dev/null");
      for (const kind of BACKENDS) {
        await t.step(kind, async () => {
          const before = await localListeners();
          const manager = new NodeManager(host.target({ sshBackend: kind, deno: fake }), {
            node: hub,
            connectTimeoutMs: 3000,
          });
          await assert.rejects(manager.connect(), (e: Error) => {
            assert.ok(e instanceof TimeoutError, String(e));
            assert.match(e.message, /"start agent" took too long \(over 3000 ms in all\)/);
            return true;
          });
          assert.equal(manager.status(), "disconnected");
          assert.deepEqual(await host.waitForNoProcesses(), []);
          assert.deepEqual(await localListeners(), before);
          assert.deepEqual(localDescendants([host.pid]), []);
        });
      }
    } finally {
      await cleanup();
    }
  },
);

hostTest(
  "connect() refuses a changed host key with HostKeyError and an unauthorised key with AuthError",
  {},
  async ({ host, hub, t }) => {
    const { dir, cleanup } = await openDir();
    try {
      const other = await generateKey(`${dir}/other_host`, "ed25519", { comment: "other" });
      const changed = `${dir}/known_hosts_changed`;
      await Deno.writeTextFile(changed, knownHostsText(host.host, host.port, [other.publicKey]));
      const stranger = await makeUserKey(`${dir}/stranger`);
      for (const kind of BACKENDS) {
        await t.step(`${kind}: changed host key`, async () => {
          const manager = new NodeManager(
            host.target({
              sshBackend: kind,
              hostKeys: { policy: "strict", knownHosts: changed },
            }),
            { node: hub },
          );
          await assert.rejects(manager.connect(), HostKeyError);
          assert.equal(manager.status(), "disconnected");
        });
        await t.step(`${kind}: unauthorised key`, async () => {
          const manager = new NodeManager(
            host.target({ sshBackend: kind, auth: { key: stranger.path } }),
            { node: hub },
          );
          await assert.rejects(manager.connect(), (e: Error) => {
            assert.ok(e instanceof AuthError && e instanceof ConnectError, String(e));
            return true;
          });
        });
      }
      assert.deepEqual(await host.waitForNoProcesses(), []);
      assert.deepEqual(localDescendants([host.pid]), []);
    } finally {
      await cleanup();
    }
  },
);
