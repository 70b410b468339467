import assert from "node:assert/strict";
import { ConnectError, HostKeyError } from "../../../src/errors.ts";
import { connectSsh, hostKeyErrorDetails } from "../../../src/ssh/mod.ts";
import { knownHostsText, startSshd } from "../../support/mod.ts";
import { BACKENDS, execText, sshTest } from "./_helpers.ts";

sshTest("connect() checks host keys against known_hosts under each policy", async (t) => {
  await using host = await startSshd({ hostKeyTypes: ["ed25519", "ecdsa", "rsa"] });
  // Another server's keys: what known_hosts holds when the server "changed".
  await using impostor = await startSshd({ hostKeyTypes: ["ed25519", "ecdsa", "rsa"] });
  const dir = host.dir;
  const changedPath = `${dir}/kh_changed`;
  await Deno.writeTextFile(
    changedPath,
    knownHostsText(host.host, host.port, impostor.hostKeys.map((k) => k.publicKey)),
  );
  const ok = async (kind: string, target: ReturnType<typeof host.target>) => {
    await using ssh = await connectSsh(target);
    assert.equal((await execText(ssh, "echo ok")).stdout, "ok\n", kind);
  };
  let n = 0;

  for (const kind of BACKENDS) {
    const base = { sshBackend: kind } as const;

    await t.step(
      `${kind}: connect() accepts a host listed in known_hosts`,
      () => ok(kind, host.target(base)),
    );

    await t.step(
      `${kind}: connect() accepts a hashed known_hosts entry`,
      () =>
        ok(
          kind,
          host.target({
            ...base,
            hostKeys: { policy: "strict", knownHosts: host.hashedKnownHostsPath },
          }),
        ),
    );

    for (const type of ["ed25519", "ecdsa", "rsa"] as const) {
      await t.step(
        `${kind}: connect() accepts a multi-key server when known_hosts holds only its ${type} key`,
        async () => {
          const path = await host.writeKnownHosts(`${dir}/kh_only_${type}_${kind}`, {
            types: [type],
            hashed: type === "ecdsa",
          });
          await ok(
            kind,
            host.target({ ...base, hostKeys: { policy: "strict", knownHosts: path } }),
          );
        },
      );
    }

    await t.step(
      `${kind}: connect() rejects an unknown host key under strict, showing its fingerprint`,
      async () => {
        const empty = `${dir}/kh_empty_${kind}`;
        await Deno.writeTextFile(empty, "");
        const before = host.logs().split("\n").filter((l) => l.includes("Accepted")).length;
        await assert.rejects(
          connectSsh(host.target({ ...base, hostKeys: { policy: "strict", knownHosts: empty } })),
          (e: Error) => {
            assert.ok(e instanceof HostKeyError, String(e));
            assert.match(e.message, /unknown host key/);
            assert.match(e.message, /accept-new/);
            const fps = Object.values(host.hostKeyFingerprints);
            assert.ok(fps.some((fp) => e.message.includes(fp)), e.message);
            assert.equal(hostKeyErrorDetails(e)?.reason, "unknown");
            return true;
          },
        );
        assert.equal(await Deno.readTextFile(empty), "", "strict must not write known_hosts");
        const after = host.logs().split("\n").filter((l) => l.includes("Accepted")).length;
        assert.equal(after, before, "no authentication may follow a refused host key");
      },
    );

    await t.step(`${kind}: connect() rejects a changed host key`, async () => {
      await assert.rejects(
        connectSsh(
          host.target({ ...base, hostKeys: { policy: "strict", knownHosts: changedPath } }),
        ),
        (e: Error) => {
          assert.ok(e instanceof HostKeyError, String(e));
          assert.match(e.message, /HOST KEY CHANGED/);
          assert.match(e.message, /ssh-keygen -R/);
          assert.ok(
            Object.values(host.hostKeyFingerprints).some((fp) => e.message.includes(fp)),
            e.message,
          );
          assert.equal(hostKeyErrorDetails(e)?.reason, "changed");
          return true;
        },
      );
    });

    await t.step(
      `${kind}: connect() under accept-new appends an unknown key, then passes strict`,
      async () => {
        const path = `${dir}/sub-${kind}/known_hosts`;
        await ok(
          kind,
          host.target({ ...base, hostKeys: { policy: "accept-new", knownHosts: path } }),
        );
        const text = await Deno.readTextFile(path);
        assert.equal(text.trim().split("\n").length, 1);
        // The system backend follows the user's HashKnownHosts setting.
        assert.ok(text.startsWith(`[127.0.0.1]:${host.port} `) || text.startsWith("|1|"), text);
        await ok(kind, host.target({ ...base, hostKeys: { policy: "strict", knownHosts: path } }));
      },
    );

    await t.step(`${kind}: connect() under accept-new still refuses a changed key`, async () => {
      const before = await Deno.readTextFile(changedPath);
      await assert.rejects(
        connectSsh(
          host.target({ ...base, hostKeys: { policy: "accept-new", knownHosts: changedPath } }),
        ),
        HostKeyError,
      );
      assert.equal(await Deno.readTextFile(changedPath), before);
    });

    await t.step(`${kind}: connect() under insecure accepts unknown and changed keys`, async () => {
      await ok(
        kind,
        host.target({ ...base, hostKeys: { policy: "insecure", knownHosts: `${dir}/nope${++n}` } }),
      );
      await ok(
        kind,
        host.target({ ...base, hostKeys: { policy: "insecure", knownHosts: changedPath } }),
      );
    });

    await t.step(
      `${kind}: connect() fails in one line when known_hosts cannot be read`,
      async () => {
        const asDir = `${dir}/kh_is_a_dir_${kind}`;
        await Deno.mkdir(asDir);
        await assert.rejects(
          connectSsh(host.target({ ...base, hostKeys: { policy: "strict", knownHosts: asDir } })),
          (e: Error) =>
            e instanceof ConnectError && e.message.includes(asDir) && !e.message.includes("\n"),
        );
      },
    );

    await t.step(`${kind}: connect() reads several known_hosts files`, () =>
      ok(
        kind,
        host.target({
          ...base,
          hostKeys: {
            policy: "strict",
            knownHosts: [`${dir}/missing_${kind}`, host.knownHostsPath],
          },
        }),
      ));
  }
});
