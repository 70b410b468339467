import assert from "node:assert/strict";
import { ConnectError, TimeoutError } from "../../../src/errors.ts";
import { connectSsh, type SshCloseInfo } from "../../../src/ssh/mod.ts";
import { childPids, startSshd } from "../../support/mod.ts";
import { BACKENDS, execText, listening, sshTest } from "./_helpers.ts";
import { createServer, type Socket } from "node:net";

sshTest("a dropped connection is reported, and failed connects say why", async (t) => {
  await using host = await startSshd();
  for (const kind of BACKENDS) {
    await t.step(
      `${kind}: onClose() and closed report a drop when the sshd session is killed`,
      async () => {
        const ssh = await connectSsh(host.target({ sshBackend: kind }));
        const fwd = await ssh.forward(host.port);
        const seen: SshCloseInfo[] = [];
        ssh.onClose((i) => seen.push(i));
        const ch = await ssh.exec("cat");
        ch.stdout.resume();
        ch.stderr.resume();
        assert.equal(ssh.connected, true);
        await host.killSessions();
        const info = await ssh.closed;
        assert.equal(info.requested, false);
        assert.ok(info.error instanceof ConnectError);
        assert.match(info.error.message, /dropped/);
        assert.equal(seen.length, 1);
        assert.equal(ssh.connected, false);
        await ch.exit;
        assert.equal(await listening(fwd.localPort), false, "forward listeners close on a drop");
        await ssh.close(); // harmless after a drop
        await assert.rejects(ssh.exec("true"), ConnectError);
      },
    );

    await t.step(`${kind}: keepalives report a drop when the server stops answering`, async () => {
      const ssh = await connectSsh(host.target({ sshBackend: kind }), {
        keepaliveIntervalMs: 500,
        keepaliveCountMax: 2,
      });
      const frozen = new Set<number>();
      try {
        // A round trip first: the session's user process exists only once it has run something.
        assert.equal((await execText(ssh, "echo up")).stdout, "up\n");
        // Freeze until no new process shows up (one may fork while we look).
        for (let round = 0; round < 5; round++) {
          const now = host.sessionPids().flatMap((p) => [p, ...childPids(p)]);
          const fresh = now.filter((p) => !frozen.has(p));
          if (fresh.length === 0 && round > 0) break;
          for (const pid of fresh) {
            frozen.add(pid);
            Deno.kill(pid, "SIGSTOP");
          }
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        const info = await Promise.race([
          ssh.closed,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error("no drop reported within 20 s")), 20_000);
          }),
        ]).finally(() => clearTimeout(timer));
        assert.equal(info.requested, false);
        assert.ok(info.error instanceof ConnectError);
      } finally {
        for (const pid of frozen) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch {
            // gone
          }
        }
        await ssh.close();
      }
    });

    await t.step(`${kind}: close() reports a requested close`, async () => {
      const ssh = await connectSsh(host.target({ sshBackend: kind }));
      let late: SshCloseInfo | undefined;
      await ssh.close();
      assert.deepEqual(await ssh.closed, { requested: true });
      ssh.onClose((i) => (late = i));
      await new Promise((r) => setTimeout(r, 0));
      assert.deepEqual(late, { requested: true });
    });

    await t.step(`${kind}: connect() to a closed port fails with ConnectError`, async () => {
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (l.addr as Deno.NetAddr).port;
      l.close();
      await assert.rejects(
        connectSsh(host.target({ sshBackend: kind, port })),
        (e: Error) => e instanceof ConnectError && /refused/.test(e.message),
      );
    });

    await t.step(`${kind}: connect() to a silent server times out naming the step`, async () => {
      const sockets = new Set<Socket>();
      const server = createServer((s) => {
        sockets.add(s);
        s.on("error", () => {});
      });
      await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, () => r()));
      const addr = server.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      try {
        await assert.rejects(
          connectSsh(host.target({ sshBackend: kind, port }), { connectTimeoutMs: 1500 }),
          (e: Error) => {
            assert.ok(e instanceof TimeoutError, String(e));
            assert.match(e.message, /handshake|banner/i);
            return true;
          },
        );
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => server.close(() => r()));
      }
    });
  }
});
