import assert from "node:assert/strict";
import { startSshd } from "../support/mod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("the README's usage code runs as written against a real sshd host (examples/usage.ts)", async () => {
  const host = await startSshd();
  const home = await Deno.makeTempDir({ prefix: "fusion-readme-" });
  try {
    await Deno.mkdir(`${home}/.ssh`, { mode: 0o700 });
    await Deno.writeTextFile(
      `${home}/.ssh/config`,
      [
        "Host web-01",
        "  HostName 127.0.0.1",
        `  Port ${host.port}`,
        `  User ${host.user}`,
        `  IdentityFile ${host.keyPath}`,
        `  UserKnownHostsFile ${host.knownHostsPath}`,
        "",
      ].join("\n"),
    );
    const denoDir = JSON.parse(
      new TextDecoder().decode(
        (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output()).stdout,
      ),
    ).denoDir as string;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "examples/usage.ts", "web-01"],
      cwd: ROOT,
      env: {
        HOME: home,
        DENO_DIR: denoDir,
        FUSION_REGISTRY_PORT: String(freePort()),
        SSH_AUTH_SOCK: "",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const r = JSON.parse(stdout.trim().split("\n").at(-1)!);
    assert.deepEqual(r.info, { deno: Deno.version.deno, os: "linux" });
    assert.equal(r.sum, 3);
    assert.equal(r.health.hostname, Deno.hostname());
    assert.ok(r.health.memoryMb > 0);
    assert.match(r.pushed.hash, /^[0-9a-f]{64}$/);
    assert.equal(r.reply.result, 42);
    assert.equal(await host.waitForNoProcesses({ timeoutMs: 10_000 }).then((l) => l.length), 0);
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
    await host.stop();
  }
});
