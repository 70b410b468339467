import assert from "node:assert/strict";
import { connectSsh } from "../../../src/ssh/mod.ts";
import { startSshd } from "../../support/mod.ts";
import { BACKENDS, execText, sshTest } from "./_helpers.ts";

sshTest("connect() goes through a ProxyJump host and resolves ssh config aliases", async (t) => {
  await using jump = await startSshd();
  await using target = await startSshd();
  // The target's key also opens the jump host (it is offered there too).
  await jump.authorize(target.publicKey);
  const knownHosts = [target.knownHostsPath, jump.knownHostsPath];
  const config = `${target.dir}/ssh_config`;
  await Deno.writeTextFile(
    config,
    [
      "Host fz-jump",
      "  HostName 127.0.0.1",
      `  Port ${jump.port}`,
      `  User ${jump.user}`,
      `  IdentityFile ${jump.keyPath}`,
      `  UserKnownHostsFile ${knownHosts.join(" ")}`,
      "Host fz-target",
      "  HostName 127.0.0.1",
      `  Port ${target.port}`,
      `  User ${target.user}`,
      `  IdentityFile ${target.keyPath}`,
      `  UserKnownHostsFile ${knownHosts.join(" ")}`,
      "  ProxyJump fz-jump",
      "Host fz-direct",
      "  HostName 127.0.0.1",
      `  Port ${target.port}`,
      `  User ${target.user}`,
      `  IdentityFile ${target.keyPath}`,
      `  UserKnownHostsFile ${target.knownHostsPath}`,
      "",
    ].join("\n"),
  );

  for (const kind of BACKENDS) {
    await t.step(
      `${kind}: connect() reaches a target through proxyJump "user@host:port"`,
      async () => {
        {
          await using ssh = await connectSsh(
            target.target({
              sshBackend: kind,
              proxyJump: `${jump.user}@127.0.0.1:${jump.port}`,
              hostKeys: { policy: "strict", knownHosts },
            }),
            { sshConfig: "/dev/null" },
          );
          assert.equal((await execText(ssh, "id -un")).stdout.trim(), target.user);
          assert.ok((await jump.processes()).length > 0, "the jump host carries a session");
          const data = new Uint8Array(600_000).map((_, i) => (i * 7) & 0xff);
          await ssh.upload("~/through-jump.bin", data);
          const sum = await execText(
            ssh,
            "sha256sum < ~/through-jump.bin; head -c 2000000 /dev/zero | wc -c",
          );
          const want = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", data)))
            .map((b) => b.toString(16).padStart(2, "0")).join("");
          assert.equal(sum.stdout.split(" ")[0], want);
          assert.equal(sum.stdout.trim().split("\n")[1]?.trim(), "2000000");
          const rev = await ssh.reverse(target.port);
          const r = await execText(
            ssh,
            `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${rev.remotePort}; head -c 7 <&3'`,
          );
          assert.equal(r.stdout, "SSH-2.0");
          await rev.close();
        }
        assert.deepEqual(await jump.waitForNoProcesses(), [], "closing also closes the jump");
      },
    );

    await t.step(
      `${kind}: connect() resolves an ssh config alias from an explicit config file`,
      async () => {
        await using ssh = await connectSsh({ host: "fz-direct", sshBackend: kind }, {
          sshConfig: config,
        });
        assert.equal((await execText(ssh, "id -un")).stdout.trim(), target.user);
        assert.deepEqual(ssh.remote, {
          host: "127.0.0.1",
          port: target.port,
          username: target.user,
          alias: "fz-direct",
        });
      },
    );

    await t.step(`${kind}: connect() follows a ProxyJump set in the ssh config`, async () => {
      {
        await using ssh = await connectSsh({
          host: "fz-target",
          sshBackend: kind,
          sshConfig: config,
        });
        assert.equal((await execText(ssh, "id -un")).stdout.trim(), target.user);
        assert.ok((await jump.processes()).length > 0, "the jump host carries a session");
      }
      assert.deepEqual(await jump.waitForNoProcesses(), []);
    });
  }
});
