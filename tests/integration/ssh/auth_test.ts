import assert from "node:assert/strict";
import { AuthError } from "../../../src/errors.ts";
import { connectSsh } from "../../../src/ssh/mod.ts";
import { makeUserKey, startSshAgent, startSshd } from "../../support/mod.ts";
import { BACKENDS, execText, sshTest } from "./_helpers.ts";

sshTest(
  "connect() authenticates with key, password and agent, and refuses bad credentials",
  async (t) => {
    await using host = await startSshd({ password: "open sesame" });
    const dir = host.dir;
    const other = await makeUserKey(`${dir}/other_key`);
    const locked = await makeUserKey(`${dir}/locked_key`, { passphrase: "s3cret" });
    await host.authorize(locked.publicKey);
    await using agent = await startSshAgent([host.keyPath]);

    for (const kind of BACKENDS) {
      await t.step(`${kind}: connect() logs in with a key file`, async () => {
        await using ssh = await connectSsh(host.target({ sshBackend: kind }));
        assert.equal((await execText(ssh, "id -un")).stdout.trim(), host.user);
        assert.equal(ssh.kind, kind);
        assert.deepEqual(ssh.remote, {
          host: host.host,
          port: host.port,
          username: host.user,
          alias: host.host,
        });
      });

      await t.step(`${kind}: connect() logs in through an ssh-agent`, async () => {
        await using ssh = await connectSsh(
          host.target({ sshBackend: kind, auth: { agent: agent.socketPath } }),
        );
        assert.equal((await execText(ssh, "id -un")).stdout.trim(), host.user);
      });

      await t.step(
        `${kind}: connect() rejects a wrong key with AuthError naming user@host`,
        async () => {
          await assert.rejects(
            connectSsh(host.target({ sshBackend: kind, auth: { key: other.path } })),
            (e: Error) => {
              assert.ok(e instanceof AuthError, String(e));
              assert.ok(e.message.includes(`${host.user}@127.0.0.1:${host.port}`), e.message);
              assert.match(e.message, /publickey/);
              return true;
            },
          );
        },
      );

      await t.step(`${kind}: connect() fails in one line for a missing key file`, async () => {
        await assert.rejects(
          connectSsh(host.target({ sshBackend: kind, auth: { key: `${dir}/no_such_key` } })),
          (e: Error) =>
            e instanceof AuthError && /no_such_key does not exist/.test(e.message) &&
            !e.message.includes("\n"),
        );
      });

      await t.step(`${kind}: connect() fails clearly for a missing agent socket`, async () => {
        await assert.rejects(
          connectSsh(host.target({ sshBackend: kind, auth: { agent: `${dir}/no.sock` } })),
          (e: Error) => e instanceof AuthError && /no\.sock does not exist/.test(e.message),
        );
      });
    }

    await t.step("ssh2: connect() logs in with a password", async () => {
      await using ssh = await connectSsh(host.target({ auth: { password: "open sesame" } }));
      assert.equal((await execText(ssh, "id -un")).stdout.trim(), host.user);
    });

    await t.step("ssh2: connect() rejects a wrong password with AuthError", async () => {
      await assert.rejects(
        connectSsh(host.target({ auth: { password: "wrong" } })),
        (e: Error) => e instanceof AuthError && /password/.test(e.message),
      );
    });

    await t.step("system: connect() refuses password auth without running ssh", async () => {
      await assert.rejects(
        connectSsh(host.target({ sshBackend: "system", auth: { password: "open sesame" } })),
        (e: Error) => e instanceof AuthError && /does not take passwords/.test(e.message),
      );
    });

    await t.step("ssh2: connect() decrypts a key with its passphrase", async () => {
      await using ssh = await connectSsh(
        host.target({ auth: { key: locked.path, passphrase: "s3cret" } }),
      );
      assert.equal((await execText(ssh, "echo ok")).stdout, "ok\n");
    });

    await t.step(
      "ssh2: connect() says a key is encrypted when no passphrase is given",
      async () => {
        await assert.rejects(
          connectSsh(host.target({ auth: { key: locked.path } })),
          (e: Error) => e instanceof AuthError && /encrypted: give auth.passphrase/.test(e.message),
        );
      },
    );

    await t.step("ssh2: connect() says the passphrase is wrong", async () => {
      await assert.rejects(
        connectSsh(host.target({ auth: { key: locked.path, passphrase: "nope" } })),
        (e: Error) => e instanceof AuthError && /wrong passphrase/.test(e.message),
      );
    });

    await t.step("system: connect() refuses a key passphrase and points to ssh-agent", async () => {
      await assert.rejects(
        connectSsh(host.target({
          sshBackend: "system",
          auth: { key: locked.path, passphrase: "s3cret" },
        })),
        (e: Error) => e instanceof AuthError && /ssh-agent/.test(e.message),
      );
    });

    for (const kind of BACKENDS) {
      // The ssh binary finds ~/.ssh through the password database, not $HOME, so the key-file
      // half runs for ssh2 only.
      await t.step(
        `${kind}: connect() without auth uses SSH_AUTH_SOCK, then ~/.ssh keys`,
        async () => {
          const oldHome = Deno.env.get("HOME");
          const oldSock = Deno.env.get("SSH_AUTH_SOCK");
          const home = `${dir}/home-${kind}`;
          try {
            await Deno.mkdir(`${home}/.ssh`, { recursive: true });
            Deno.env.set("HOME", home);
            Deno.env.set("SSH_AUTH_SOCK", agent.socketPath);
            const target = host.target({ sshBackend: kind });
            delete target.auth;
            {
              await using ssh = await connectSsh(target, { sshConfig: "/dev/null" });
              assert.equal((await execText(ssh, "echo via-agent")).stdout, "via-agent\n");
            }
            if (kind === "system") return;
            Deno.env.delete("SSH_AUTH_SOCK");
            await Deno.copyFile(host.keyPath, `${home}/.ssh/id_ed25519`);
            await Deno.chmod(`${home}/.ssh/id_ed25519`, 0o600);
            {
              await using ssh = await connectSsh(target, { sshConfig: "/dev/null" });
              assert.equal((await execText(ssh, "echo via-file")).stdout, "via-file\n");
            }
          } finally {
            if (oldHome === undefined) Deno.env.delete("HOME");
            else Deno.env.set("HOME", oldHome);
            if (oldSock === undefined) Deno.env.delete("SSH_AUTH_SOCK");
            else Deno.env.set("SSH_AUTH_SOCK", oldSock);
          }
        },
      );
    }
  },
);
