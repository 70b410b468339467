import assert from "node:assert/strict";
import { connectSsh } from "../../../src/ssh/mod.ts";
import { netnsUnavailable, startNetnsHost } from "../../support/mod.ts";
import { BACKENDS, bashTcpRoundTrip, execText, unavailable, upperServer } from "./_helpers.ts";

const nsReason = unavailable ?? await netnsUnavailable();
if (nsReason && !unavailable) {
  console.error(`\n!!!!! NETWORK NAMESPACE SSH TESTS SKIPPED: ${nsReason} !!!!!\n`);
}

Deno.test({
  name: "connect() reaches a host in its own network namespace",
  ignore: nsReason !== undefined,
  fn: async (t) => {
    await using host = await startNetnsHost();
    const upper = await upperServer();
    try {
      assert.match(host.host, /^10\.231\.\d+\.2$/);
      assert.equal(host.port, 22);
      for (const kind of BACKENDS) {
        await t.step(
          `${kind}: exec, forward and reverse work against a namespace host on port 22`,
          async () => {
            {
              await using ssh = await connectSsh(host.target({ sshBackend: kind }));
              const ip = await execText(ssh, "ip -4 -o addr show");
              assert.ok(ip.stdout.includes(host.host), ip.stdout);
              const rev = await ssh.reverse(upper.port);
              assert.equal(
                (await execText(ssh, bashTcpRoundTrip(rev.remotePort, "ns"))).stdout,
                "NS",
              );
              const fwd = await ssh.forward(22, { remoteHost: host.host });
              const c = await Deno.connect({ hostname: "127.0.0.1", port: fwd.localPort });
              const buf = new Uint8Array(64);
              const n = await c.read(buf);
              assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^SSH-2\.0/);
              c.close();
            }
            assert.deepEqual(await host.waitForNoProcesses(), []);
          },
        );
      }
    } finally {
      await upper.close();
    }
    await host.stop();
    const list = new TextDecoder().decode(
      (await new Deno.Command("ip", { args: ["netns", "list"] }).output()).stdout,
    );
    assert.ok(!list.includes(host.netns), "the namespace is deleted");
  },
});
