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
            for (let i = 0; i < 20; i++) {
              const ssh = await connectSsh(host.target({ sshBackend: kind }));
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
            const newDirs = [...tempDirs()].filter((d) => !dirsBefore.has(d));
            assert.deepEqual(newDirs, [], "private ControlPath dirs are removed");
            assert.deepEqual(
              localProcessesMentioning("/fusion-ssh-"),
              [],
              "no local ssh process left",
            );
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
  const script = `
    import { connectSsh } from ${
    JSON.stringify(new URL("../../../src/ssh/mod.ts", import.meta.url).href)
  };
    const ssh = await connectSsh(${JSON.stringify(host.target({ sshBackend: "system" }))});
    console.log("connected");
    await new Promise(() => {});
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    cwd: new URL("../../..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const first = await reader.read();
  assert.equal(new TextDecoder().decode(first.value).trim(), "connected");
  assert.ok((await host.processes()).length > 0);
  child.kill("SIGKILL");
  await child.status;
  reader.releaseLock();
  await child.stdout.cancel();
  assert.deepEqual(await host.waitForNoProcesses({ timeoutMs: 10_000 }), []);
});
