import assert from "node:assert/strict";
import { ConnectError } from "../../../src/errors.ts";
import { connectSsh } from "../../../src/ssh/mod.ts";
import { startSshd } from "../../support/mod.ts";
import {
  BACKENDS,
  bashTcpRoundTrip,
  execText,
  listening,
  sshTest,
  upperServer,
} from "./_helpers.ts";

async function readSome(conn: Deno.Conn, min: number): Promise<string> {
  let out = "";
  const buf = new Uint8Array(4096);
  while (out.length < min) {
    const n = await conn.read(buf);
    if (n === null) break;
    out += new TextDecoder().decode(buf.subarray(0, n));
  }
  return out;
}

sshTest("forward(), reverse() and dial() carry TCP through the SSH connection", async (t) => {
  await using host = await startSshd();
  const upper = await upperServer();
  try {
    for (const kind of BACKENDS) {
      await using ssh = await connectSsh(host.target({ sshBackend: kind }));

      await t.step(
        `${kind}: forward() opens a local 127.0.0.1 listener reaching a server-side port`,
        async () => {
          // sshd's own port is a listener on the server's 127.0.0.1.
          const fwd = await ssh.forward(host.port);
          assert.equal(fwd.localHost, "127.0.0.1");
          assert.ok(fwd.localPort > 0);
          assert.equal(fwd.remotePort, host.port);
          const conns = await Promise.all(
            [1, 2, 3].map(() => Deno.connect({ hostname: "127.0.0.1", port: fwd.localPort })),
          );
          for (const c of conns) {
            assert.match(await readSome(c, 8), /^SSH-2\.0-OpenSSH/);
            c.close();
          }
          await fwd.close();
          assert.equal(await listening(fwd.localPort), false, "the local listener must be gone");
        },
      );

      await t.step(
        `${kind}: forward() to a closed server-side port drops the local connection`,
        async () => {
          const fwd = await ssh.forward(1);
          const c = await Deno.connect({ hostname: "127.0.0.1", port: fwd.localPort });
          assert.equal(await c.read(new Uint8Array(10)).catch(() => null), null);
          c.close();
          await fwd.close();
        },
      );

      await t.step(
        `${kind}: reverse() reports the port sshd chose and carries connections back`,
        async () => {
          const rev = await ssh.reverse(upper.port);
          assert.equal(rev.remoteHost, "127.0.0.1");
          assert.ok(rev.remotePort > 0 && rev.remotePort !== upper.port || rev.remotePort > 0);
          assert.equal(rev.localPort, upper.port);
          const r = await execText(ssh, bashTcpRoundTrip(rev.remotePort, "ping"));
          assert.equal(r.stdout, "PING", r.stderr);
          await rev.close();
          const after = await execText(ssh, bashTcpRoundTrip(rev.remotePort, "ping"));
          assert.notEqual(after.code, 0, "the server-side listener must be gone after close()");
        },
      );

      await t.step(`${kind}: reverse() twice gives two distinct server ports`, async () => {
        const [a, b] = await Promise.all([ssh.reverse(upper.port), ssh.reverse(upper.port)]);
        assert.notEqual(a.remotePort, b.remotePort);
        const [ra, rb] = await Promise.all([
          execText(ssh, bashTcpRoundTrip(a.remotePort, "aa")),
          execText(ssh, bashTcpRoundTrip(b.remotePort, "bb")),
        ]);
        assert.equal(ra.stdout + rb.stdout, "AABB");
        await Promise.all([a.close(), b.close()]);
      });

      await t.step(
        `${kind}: reverse() to a dead local port refuses the server-side connection`,
        async () => {
          const rev = await ssh.reverse(1);
          const r = await execText(ssh, bashTcpRoundTrip(rev.remotePort, "x"));
          assert.equal(r.stdout, "");
          await rev.close();
        },
      );

      await t.step(`${kind}: dial() opens one TCP stream from the server`, async () => {
        const d = await ssh.dial("127.0.0.1", host.port);
        const banner = await new Promise<string>((res) =>
          d.once("data", (c: Uint8Array) => res(String(c)))
        );
        assert.match(banner, /^SSH-2\.0-OpenSSH/);
        d.destroy();
      });

      await t.step(`${kind}: a forward and a reverse tunnel work together end to end`, async () => {
        const rev = await ssh.reverse(upper.port);
        const fwd = await ssh.forward(rev.remotePort);
        const c = await Deno.connect({ hostname: "127.0.0.1", port: fwd.localPort });
        await c.write(new TextEncoder().encode("round trip"));
        assert.equal(await readSome(c, 10), "ROUND TRIP");
        c.close();
        await fwd.close();
        await rev.close();
      });
    }

    await t.step("forward() after close() fails with ConnectError", async () => {
      const ssh = await connectSsh(host.target());
      await ssh.close();
      await assert.rejects(ssh.forward(host.port), ConnectError);
      await assert.rejects(ssh.exec("true"), ConnectError);
    });
  } finally {
    await upper.close();
  }
});
