import assert from "node:assert/strict";
import { type SshdHost, startSshd } from "../../support/mod.ts";
import {
  cliEnv,
  ensureAgentBundle,
  freePort,
  fusion,
  inventoryHost,
  parseJson,
  writeSshConfig,
} from "./_cli.ts";

const HOSTS = 10;

Deno.test("fusion fans out to 10 sshd hosts with one unreachable host among them", async (t) => {
  await ensureAgentBundle();
  const started = await Promise.allSettled(Array.from({ length: HOSTS }, () => startSshd()));
  const hosts = started.flatMap((s) => s.status === "fulfilled" ? [s.value] : []);
  const dir = await Deno.makeTempDir({ prefix: "fusion-cli-fanout-" });
  const env = cliEnv();
  try {
    const failedStart = started.find((s) => s.status === "rejected");
    if (failedStart) throw (failedStart as PromiseRejectedResult).reason;
    const names = hosts.map((_, i) => `web-${String(i + 1).padStart(2, "0")}`);
    const inventory = `${dir}/inventory.json`;
    await Deno.writeTextFile(
      inventory,
      JSON.stringify({
        hosts: {
          ...Object.fromEntries(hosts.map((h, i) => [names[i], inventoryHost(h)])),
          // Nothing listens there.
          "down-01": { ...inventoryHost(hosts[0]!), port: freePort() },
        },
        groups: { web: names, fleet: ["@web", "down-01"] },
      }),
    );
    const inv = ["--inventory", inventory];

    await t.step("ping @fleet: 10 ok, the unreachable one failed, exit 1", async () => {
      const r = await fusion(["ping", "@fleet", ...inv, "--json", "--parallel", "20"], env);
      assert.equal(r.code, 1, r.stderr);
      const results = parseJson(r);
      assert.deepEqual(results.map((x) => x.host), [...names, "down-01"]);
      for (const x of results.slice(0, HOSTS)) assert.equal(x.ok, true, JSON.stringify(x));
      assert.equal(results[HOSTS]?.ok, false);
      assert.equal(results[HOSTS]?.error?.name, "ConnectError");
      const nodes = new Set(results.slice(0, HOSTS).map((x) => (x.value as { node: string }).node));
      assert.equal(nodes.size, HOSTS);
      assert.match(r.stderr, /11 hosts: 10 ok, 1 failed in/);
    });

    await t.step("eval under --parallel 3 runs on every host as its own user", async () => {
      const r = await fusion(
        ["eval", "@fleet", "Deno.env.get('USER')", ...inv, "--ndjson", "--parallel", "3"],
        env,
      );
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      assert.equal(lines.length, HOSTS + 1);
      const users = new Map(lines.filter((x) => x.ok).map((x) => [x.host, x.value]));
      assert.equal(users.size, HOSTS);
      hosts.forEach((h, i) => assert.equal(users.get(names[i]!), h.user));
    });

    await t.step("sh through ssh config aliases and a comma list, text output", async () => {
      const config = await writeSshConfig(`${dir}/ssh_config`, hosts, "alias");
      const list = hosts.map((_, i) => `alias${i}`).join(",");
      const r = await fusion(["sh", list, "--ssh-config", config, "--", "echo $USER"], env);
      assert.equal(r.code, 0, r.stderr);
      for (const [i, h] of hosts.entries()) {
        assert.match(
          r.stdout,
          new RegExp(`^alias${i}\\s+ok\\s+\\d+ ms\\s+exit 0\\n  ${h.user}$`, "m"),
        );
      }
      assert.match(r.stdout, /10 hosts: 10 ok, 0 failed in/);
    });

    await t.step("nothing is left running on any host", async () => {
      const left = await Promise.all(hosts.map((h) => h.waitForNoProcesses({ timeoutMs: 10_000 })));
      assert.deepEqual(left.flat(), []);
    });
  } finally {
    await Promise.all(hosts.map((h: SshdHost) => h.stop()));
    await Deno.remove(dir, { recursive: true });
  }
});
