import assert from "node:assert/strict";
import { ConnectError } from "../../../src/errors.ts";
import { resolveSshConfig, resolveTarget } from "../../../src/ssh/mod.ts";

const CONFIG = `
Host web-01
  HostName 127.0.0.1
  User bob
  Port 2222
  IdentityFile ~/.ssh/web_%r
  UserKnownHostsFile /tmp/kh1 /tmp/kh2
  ProxyJump jump@bastion:2200

Host *.internal
  User ops

Host *
  ServerAliveInterval 5
`;

async function withConfig(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fusion-cfg-" });
  try {
    await Deno.writeTextFile(`${dir}/config`, CONFIG);
    await fn(`${dir}/config`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const hasSsh =
  (await new Deno.Command("ssh", { args: ["-V"], stderr: "null" }).output().catch(() => ({
    code: 1,
  }))).code === 0;
const home = Deno.env.get("HOME") ?? "";

for (const via of ["ssh -G", "the built-in parser"] as const) {
  const sshBinary = via === "ssh -G" ? "ssh" : null;
  Deno.test({
    name:
      `resolveSshConfig() with ${via} reads HostName, User, Port, IdentityFile, UserKnownHostsFile, ProxyJump`,
    ignore: via === "ssh -G" && !hasSsh,
    fn: () =>
      withConfig(async (configFile) => {
        const c = await resolveSshConfig("web-01", { configFile, sshBinary });
        assert.equal(c.hostName, "127.0.0.1");
        assert.equal(c.user, "bob");
        assert.equal(c.port, 2222);
        assert.deepEqual(c.identityFiles, [`${home}/.ssh/web_bob`]);
        assert.deepEqual(c.userKnownHostsFiles, ["/tmp/kh1", "/tmp/kh2"]);
        assert.equal(c.proxyJump, "jump@bastion:2200");
      }),
  });
  Deno.test({
    name: `resolveSshConfig() with ${via} leaves out what the config does not set`,
    ignore: via === "ssh -G" && !hasSsh,
    fn: () =>
      withConfig(async (configFile) => {
        const c = await resolveSshConfig("db.internal", { configFile, sshBinary });
        assert.deepEqual(c, { user: "ops" });
      }),
  });
  Deno.test({
    name: `resolveSshConfig() with ${via} fails in one line for a missing config file`,
    ignore: via === "ssh -G" && !hasSsh,
    fn: async () => {
      await assert.rejects(
        resolveSshConfig("x", { configFile: "/nonexistent/fusion/config", sshBinary }),
        (e: Error) =>
          e instanceof ConnectError && /\/nonexistent\/fusion\/config/.test(e.message) &&
          !e.message.includes("\n"),
      );
    },
  });
}

Deno.test("resolveTarget() lets explicit target fields win over the ssh config", async () => {
  await withConfig(async (sshConfig) => {
    const r = await resolveTarget({
      host: "web-01",
      port: 2200,
      username: "alice",
      auth: { password: "x" },
    }, {
      sshConfig,
    });
    assert.equal(r.host, "127.0.0.1");
    assert.equal(r.port, 2200);
    assert.equal(r.username, "alice");
    assert.deepEqual(r.knownHosts, ["/tmp/kh1", "/tmp/kh2"]);
    assert.equal(r.proxyJump, "jump@bastion:2200");
    assert.deepEqual(r.credentials, [{ type: "password", password: "x" }]);
    const s = await resolveTarget("web-01", { sshConfig, env: () => undefined });
    assert.equal(s.username, "bob");
    assert.equal(s.port, 2222);
    assert.equal(s.policy, "strict");
  });
});

Deno.test("resolveTarget() offers the agent first, then default keys, when no auth is given", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fusion-home-" });
  const oldHome = Deno.env.get("HOME");
  try {
    await Deno.mkdir(`${dir}/.ssh`);
    await Deno.writeTextFile(`${dir}/.ssh/id_rsa`, "x");
    await Deno.writeTextFile(`${dir}/.ssh/id_ed25519`, "x");
    await Deno.writeTextFile(`${dir}/empty_config`, "");
    Deno.env.set("HOME", dir);
    const r = await resolveTarget("u@h", {
      sshConfig: `${dir}/empty_config`,
      env: (n) => (n === "SSH_AUTH_SOCK" ? "/tmp/agent.sock" : undefined),
    });
    assert.deepEqual(r.credentials, [
      { type: "agent", socket: "/tmp/agent.sock" },
      { type: "key", path: `${dir}/.ssh/id_ed25519`, explicit: false },
      { type: "key", path: `${dir}/.ssh/id_rsa`, explicit: false },
    ]);
    assert.deepEqual(r.knownHosts, [`${dir}/.ssh/known_hosts`]);
  } finally {
    if (oldHome === undefined) Deno.env.delete("HOME");
    else Deno.env.set("HOME", oldHome);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resolveTarget() expands ~ in key and known_hosts paths", async () => {
  const r = await resolveTarget(
    { host: "h", auth: { key: "~/k" }, hostKeys: { knownHosts: ["~/kh", "/abs"] } },
    { sshConfig: "/dev/null" },
  );
  assert.deepEqual(r.credentials, [{ type: "key", path: `${home}/k`, explicit: true }]);
  assert.deepEqual(r.knownHosts, [`${home}/kh`, "/abs"]);
});

// A wrapper around ssh that counts its `-G` runs.
async function withCountingSsh(fn: (binary: string, runs: () => number) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "fusion-ssh-g-" });
  try {
    await Deno.writeTextFile(
      `${dir}/ssh`,
      `#!/bin/sh\n[ "$1" = -G ] && echo x >> ${dir}/runs\nexec ssh "$@"\n`,
    );
    await Deno.chmod(`${dir}/ssh`, 0o755);
    const runs = () => {
      try {
        return Deno.readTextFileSync(`${dir}/runs`).split("\n").filter(Boolean).length;
      } catch {
        return 0;
      }
    };
    await fn(`${dir}/ssh`, runs);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "resolveSshConfig() runs ssh -G once for many connects to one host at once",
  ignore: !hasSsh,
  fn: () =>
    withCountingSsh((sshBinary, runs) =>
      withConfig(async (configFile) => {
        const all = await Promise.all(
          Array.from({ length: 5 }, () => resolveSshConfig("web-01", { configFile, sshBinary })),
        );
        for (const c of all) assert.equal(c.port, 2222);
        // The first call also resolves the baseline (a host no config names).
        const before = runs();
        assert.ok(before <= 2, `${before} runs`);
        await resolveSshConfig("web-01", { configFile, sshBinary });
        assert.equal(runs(), before);
      })
    ),
});

Deno.test({
  name: "resolveSshConfig() sees a config file changed since the last ssh -G",
  ignore: !hasSsh,
  fn: () =>
    withCountingSsh((sshBinary) =>
      withConfig(async (configFile) => {
        assert.equal((await resolveSshConfig("web-01", { configFile, sshBinary })).port, 2222);
        await Deno.writeTextFile(configFile, CONFIG.replace("Port 2222", "Port 2223"));
        assert.equal((await resolveSshConfig("web-01", { configFile, sshBinary })).port, 2223);
      })
    ),
});
