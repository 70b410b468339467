import assert from "node:assert/strict";
import { connectSsh } from "../../../src/ssh/mod.ts";
import { startSshd } from "../../support/mod.ts";
import {
  BACKENDS,
  execText,
  listening,
  localProcessesMentioning,
  sshTest,
  upperServer,
} from "./_helpers.ts";

function tempDirs(): Set<string> {
  const out = new Set<string>();
  for (const e of Deno.readDirSync("/tmp")) if (e.name.startsWith("fusion-ssh-")) out.add(e.name);
  return out;
}

sshTest(
  "connect() and close() 20 times leave no process, listener or temp dir behind",
  async (t) => {
    await using host = await startSshd();
    const upper = await upperServer();
    try {
      for (const kind of BACKENDS) {
        await t.step(
          `${kind}: 20 connect/close cycles with tunnels leave nothing behind`,
          async () => {
            const dirsBefore = tempDirs();
            const ports: number[] = [];
            const ours = new Set<string>();
            const debug = (l: string) => {
              const m = /-S (\/\S+)\/ctl/.exec(l);
              if (m) ours.add(m[1]!);
            };
            for (let i = 0; i < 20; i++) {
              const ssh = await connectSsh(host.target({ sshBackend: kind }), { debug });
              const fwd = await ssh.forward(host.port);
              const rev = await ssh.reverse(upper.port);
              ports.push(fwd.localPort);
              if (i % 5 === 0) assert.equal((await execText(ssh, "echo ok")).stdout, "ok\n");
              if (i % 2 === 0) {
                await fwd.close();
                await rev.close();
              }
              await ssh.close();
            }
            assert.deepEqual(await host.waitForNoProcesses({ timeoutMs: 10_000 }), []);
            for (const p of ports) {
              assert.equal(
                await listening(p),
                false,
                `port ${p} still listening`,
              );
            }
            // Only this test's dirs and processes: other suites may run ssh meanwhile.
            const newDirs = [...tempDirs()].filter((d) =>
              !dirsBefore.has(d) && ours.has(`/tmp/${d}`)
            );
            assert.deepEqual(newDirs, [], "private ControlPath dirs are removed");
            assert.equal(ours.size, kind === "system" ? 20 : 0);
            for (const dir of ours) {
              assert.deepEqual(localProcessesMentioning(dir), [], `ssh processes left for ${dir}`);
            }
          },
        );
      }
    } finally {
      await upper.close();
    }
  },
);

sshTest("the system backend's ControlMaster dies with the process that started it", async () => {
  await using host = await startSshd();
  const mod = JSON.stringify(new URL("../../../src/ssh/mod.ts", import.meta.url).href);
  const target = JSON.stringify(host.target({ sshBackend: "system" }));
  const script = `
    import { connectSsh } from ${mod};
    const ssh = await connectSsh(${target});
    // Something to run in the session, so it is visible as a process of the user.
    const ch = await ssh.exec("exec cat");
    console.log("connected");
    await ch.exit;
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    cwd: new URL("../../..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  try {
    const first = await reader.read();
    assert.equal(new TextDecoder().decode(first.value).trim(), "connected");
    const deadline = Date.now() + 10_000;
    while (!(await host.processes()).some((p) => p.command === "cat")) {
      assert.ok(Date.now() < deadline, "the session never showed up");
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel();
  }
  // The session (and cat, on EOF) ends because the master died with its process.
  assert.deepEqual(await host.waitForNoProcesses({ timeoutMs: 10_000 }), []);
});
