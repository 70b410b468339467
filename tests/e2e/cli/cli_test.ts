import assert from "node:assert/strict";
import { sleep, startSshd } from "../../support/mod.ts";
import {
  cliEnv,
  ensureAgentBundle,
  freePort,
  fusion,
  inventoryHost,
  type JsonResult,
  parseJson,
  spawnCli,
  writeSshConfig,
} from "./_cli.ts";

const fixture = (path: string) =>
  new URL(`../../fixtures/task_runner/${path}`, import.meta.url).pathname;

async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  }
  if (buf) onLine(buf);
}

Deno.test("the fusion command works every subcommand against a real sshd host", async (t) => {
  await ensureAgentBundle();
  const host = await startSshd();
  const dir = await Deno.makeTempDir({ prefix: "fusion-cli-e2e-" });
  const env = cliEnv();
  try {
    const config = await writeSshConfig(`${dir}/ssh_config`, [host]);
    const ssh = ["--ssh-config", config];

    await t.step("ping connects and reports a round trip (text)", async () => {
      const r = await fusion(["ping", "h0", ...ssh], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^h0\s+ok\s+\d+ ms\s+rtt \d+\.\d\d ms/m);
      assert.match(r.stdout, /1 host: 1 ok, 0 failed in \d+\.\d\d s/);
    });

    await t.step("ping --json reports the agent's Deno and host name", async () => {
      const r = await fusion(["ping", "h0", "--json", ...ssh], env);
      assert.equal(r.code, 0, r.stderr);
      const [p] = parseJson(r);
      assert.equal(p?.host, "h0");
      assert.equal(p?.ok, true);
      const v = p?.value as { rttMs: number; deno: string; hostname: string; node: string };
      assert.ok(v.rttMs > 0);
      assert.equal(v.deno, Deno.version.deno);
      assert.equal(v.hostname, Deno.hostname());
      assert.match(v.node, /^h0-[0-9a-f]+@localhost$/);
    });

    await t.step("eval evaluates an expression, and statements with return", async () => {
      const r = await fusion([
        "eval",
        "h0",
        "({ user: Deno.env.get('USER') ?? Deno.env.get('LOGNAME'), sum: 1 + 2 })",
        "--json",
        ...ssh,
      ], env);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(parseJson(r)[0]?.value, { user: host.user, sum: 3 });
      const s = await fusion(
        ["eval", "h0", "const x = await Promise.resolve(20); return x + 1", "--json", ...ssh],
        env,
      );
      assert.equal(s.code, 0, s.stderr);
      assert.equal(parseJson(s)[0]?.value, 21);
    });

    await t.step("eval reports a thrown error as a failed host (exit 1)", async () => {
      const r = await fusion(["eval", "h0", "nosuchName + 1", "--json", ...ssh], env);
      assert.equal(r.code, 1);
      const [e] = parseJson(r);
      assert.equal(e?.ok, false);
      assert.equal(e?.error?.name, "RemoteError");
      assert.equal(e?.error?.remoteName, "ReferenceError");
      assert.match(e?.error?.message ?? "", /nosuchName is not defined/);
    });

    await t.step("remote console output is shown with its host", async () => {
      const r = await fusion(["eval", "h0", "(console.log('hello from remote'), 5)", ...ssh], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^\[h0\] hello from remote$/m);
      assert.match(r.stdout, /^h0\s+ok\s+\d+ ms\s+5$/m);
    });

    await t.step("run pushes a module and calls an export with JSON args", async () => {
      const r = await fusion(
        ["run", "h0", fixture("chain/entry.ts"), "summary", "5", "--json", ...ssh],
        env,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(parseJson(r)[0]?.value, { text: "doubled twice: 20", twoHours: 7_200_000 });
      const h = await fusion(["run", "h0", fixture("health.ts"), "check", "--json", ...ssh], env);
      assert.equal(h.code, 0, h.stderr);
      const v = parseJson(h)[0]?.value as { hostname: string; memoryMb: number };
      assert.equal(v.hostname, Deno.hostname());
      assert.ok(v.memoryMb > 0);
    });

    await t.step("run names a missing export (exit 1)", async () => {
      const r = await fusion(["run", "h0", fixture("health.ts"), "nope", "--json", ...ssh], env);
      assert.equal(r.code, 1);
      assert.match(parseJson(r)[0]?.error?.message ?? "", /no export "nope"/);
    });

    await t.step("sh runs a command with --cwd and --env and shows its output", async () => {
      const r = await fusion([
        "sh",
        "h0",
        "--cwd",
        "/tmp",
        "--env",
        "GREETING=hi there",
        "--env",
        "N=7",
        "--json",
        ...ssh,
        "--",
        'echo "$GREETING $N"; pwd; echo warn >&2',
      ], env);
      assert.equal(r.code, 0, r.stderr);
      const [s] = parseJson(r);
      assert.equal(s?.ok, true);
      assert.deepEqual(s?.value, {
        code: 0,
        signal: null,
        stdout: "hi there 7\n/tmp\n",
        stderr: "warn\n",
      });
      const text = await fusion(["sh", "h0", ...ssh, "--", "echo", "one", "two"], env);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^h0\s+ok\s+\d+ ms\s+exit 0\n {2}one two$/m);
    });

    await t.step("sh counts a non-zero exit code as a failed host (exit 1)", async () => {
      const r = await fusion(["sh", "h0", "--json", ...ssh, "--", "echo out; exit 3"], env);
      assert.equal(r.code, 1);
      const [s] = parseJson(r) as (JsonResult & { value: { code: number; stdout: string } })[];
      assert.equal(s?.ok, false);
      assert.equal(s?.error?.message, "exit code 3");
      assert.equal(s?.value.code, 3);
      assert.equal(s?.value.stdout, "out\n");
      const text = await fusion(["sh", "h0", ...ssh, "--", "echo out; exit 3"], env);
      assert.equal(text.code, 1);
      assert.match(text.stdout, /^h0\s+FAILED\s+\d+ ms\s+ExitStatusError: exit code 3\n {2}out$/m);
    });

    await t.step("--ndjson prints one object per host", async () => {
      const r = await fusion(["eval", "h0", "40 + 2", "--ndjson", ...ssh], env);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split("\n");
      assert.equal(lines.length, 1);
      const o = JSON.parse(lines[0]!);
      assert.equal(o.host, "h0");
      assert.equal(o.value, 42);
      assert.equal(typeof o.ms, "number");
    });

    await t.step("clean removes ~/.cache/fusion without starting an agent", async () => {
      const before = await Deno.stat(`${host.home}/.cache/fusion`);
      assert.ok(before.isDirectory);
      const r = await fusion(["clean", "h0", "--json", ...ssh], env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((parseJson(r)[0]?.value as { removed: boolean }).removed, true);
      await assert.rejects(Deno.stat(`${host.home}/.cache/fusion`), Deno.errors.NotFound);
      const again = await fusion(["clean", "h0", ...ssh], env);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /nothing to remove/);
    });

    await t.step(
      "a closed port, a missing key file and an unknown host key fail their hosts with exit 1",
      async () => {
        const emptyKnownHosts = `${dir}/empty_known_hosts`;
        await Deno.writeTextFile(emptyKnownHosts, "");
        const inventory = `${dir}/inventory.json`;
        await Deno.writeTextFile(
          inventory,
          JSON.stringify({
            hosts: {
              good: inventoryHost(host),
              closed: { ...inventoryHost(host), port: freePort() },
              nokey: { ...inventoryHost(host), key: `${dir}/no_such_key` },
              unknownkey: { ...inventoryHost(host), knownHosts: emptyKnownHosts },
            },
          }),
        );
        const r = await fusion(
          ["ping", "@all", "--inventory", inventory, "--json", "--timeout", "10000"],
          env,
        );
        assert.equal(r.code, 1, r.stderr);
        const byHost = new Map(parseJson(r).map((x) => [x.host, x]));
        assert.deepEqual([...byHost.keys()], ["good", "closed", "nokey", "unknownkey"]);
        assert.equal(byHost.get("good")?.ok, true);
        assert.equal(byHost.get("closed")?.ok, false);
        assert.equal(byHost.get("closed")?.error?.name, "ConnectError");
        assert.equal(byHost.get("nokey")?.ok, false);
        assert.match(byHost.get("nokey")?.error?.message ?? "", /no_such_key/);
        assert.equal(byHost.get("unknownkey")?.ok, false);
        assert.equal(byHost.get("unknownkey")?.error?.name, "HostKeyError");
        // Text mode: one line per failure, no stack trace.
        const text = await fusion(["ping", "@all", "--inventory", inventory], env);
        assert.equal(text.code, 1);
        assert.match(text.stdout, /^closed\s+FAILED/m);
        assert.match(text.stdout, /4 hosts: 1 ok, 3 failed/);
        assert.doesNotMatch(text.stdout + text.stderr, /\n\s+at /);
      },
    );

    await t.step("a TOML inventory gives groups and per-host settings", async () => {
      const inventory = `${dir}/inventory.toml`;
      await Deno.writeTextFile(
        inventory,
        [
          "# test inventory",
          "[defaults]",
          `user = "${host.user}"`,
          `key = "${host.keyPath}"`,
          `knownHosts = "${host.knownHostsPath}"`,
          "",
          "[hosts.web-01]",
          `host = "${host.host}"`,
          `port = ${host.port}`,
          "",
          "[hosts]",
          `web-02 = "${host.host}:${host.port}"`,
          "",
          "[groups]",
          'web = ["web-01", "web-02"]',
          'everything = ["@web"]',
        ].join("\n"),
      );
      const r = await fusion(
        ["eval", "@everything", "Deno.env.get('USER')", "--inventory", inventory, "--json"],
        env,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        parseJson(r).map((x) => [x.host, x.ok, x.value]),
        [["web-01", true, host.user], ["web-02", true, host.user]],
      );
      const viaEnv = await fusion(["ping", "web-02", "--json"], env, {
        FUSION_INVENTORY: inventory,
      });
      assert.equal(viaEnv.code, 0, viaEnv.stderr);
    });

    await t.step("usage errors and bad input exit 2 with one line and no stack", async () => {
      const badToml = `${dir}/bad.toml`;
      await Deno.writeTextFile(badToml, "[hosts.a]\nport = \n");
      const badGroup = `${dir}/bad_group.json`;
      await Deno.writeTextFile(badGroup, JSON.stringify({ groups: { web: ["ghost"] } }));
      const cases: [string[], RegExp][] = [
        [["launch", "h0"], /unknown command "launch"/],
        [["run", "h0", fixture("health.ts"), "check", "not-json"], /argument 1 is not JSON/],
        [["ping", "bad host!"], /malformed target/],
        [["ping", "h0,,h1"], /empty entry/],
        [["ping", "h0:99999"], /port/],
        [["ping", "h0", "--inventory", badToml], /inventory .*bad\.toml: not valid TOML: line 2/],
        [["ping", "h0", "--inventory", badGroup], /group "web": unknown host "ghost"/],
        [["ping", "h0", "--inventory", `${dir}/missing.toml`], /cannot read inventory/],
        [["ping", "@web"], /groups need an inventory/],
        [["ping", "h0", "--ssh-config", `${dir}/missing_config`], /cannot use ssh config/],
        [["ping", "h0", "--parallel", "zero"], /--parallel must be a whole number/],
        [["ping", "h0", "--frobnicate"], /unknown option --frobnicate/],
        [["eval", "h0", "1", "--cwd", "/"], /--cwd is an option of fusion sh only/],
        [["sh", "h0", "--env", "1X=2", "--", "true"], /--env wants NAME=value/],
        [["run", "h0", `${dir}/no_module.ts`, "f"], /cannot read module/],
        [["ping"], /missing arguments/],
      ];
      for (const [args, message] of cases) {
        const r = await fusion(args, env);
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, message, args.join(" "));
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert.match(r.stderr, /^fusion: /);
        assert.equal(r.stdout, "");
      }
    });

    await t.step("--help works for every command", async () => {
      for (const cmd of ["run", "eval", "sh", "ping", "names", "registry", "clean", "demo"]) {
        const r = await fusion([cmd, "--help"], env);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`^fusion ${cmd}`));
        assert.match(r.stdout, /Exit codes/);
      }
      const top = await fusion(["--help"], env);
      assert.equal(top.code, 0);
      assert.match(top.stdout, /Commands:/);
    });

    await t.step("registry runs in the foreground and names lists its nodes", async () => {
      const port = freePort();
      const reg = spawnCli(["registry", "--registry-port", String(port)], env);
      const regOut: string[] = [];
      const regDone = readLines(reg.stdout, (l) => regOut.push(l));
      const regErr = new Response(reg.stderr).text();
      try {
        for (let i = 0; i < 100 && !regOut.some((l) => l.includes("listening")); i++) {
          await sleep(100);
        }
        assert.match(regOut[0] ?? "", new RegExp(`listening on 127\\.0\\.0\\.1:${port}`));
        const empty = await fusion(["names", "--registry-port", String(port), "--json"], env);
        assert.equal(empty.code, 0, empty.stderr);
        assert.deepEqual(JSON.parse(empty.stdout), []);

        // A long eval keeps the CLI's node and the agent registered meanwhile.
        const busy = spawnCli(
          [
            "eval",
            "h0",
            "new Promise((r) => setTimeout(r, 4000))",
            "--registry-port",
            String(port),
            ...ssh,
          ],
          env,
        );
        let names: { name: string; port: number }[] = [];
        try {
          for (let i = 0; i < 150; i++) {
            const n = await fusion(["names", "--registry-port", String(port), "--json"], env);
            names = JSON.parse(n.stdout);
            if (names.some((e) => e.name.startsWith("h0-"))) break;
            await sleep(100);
          }
        } finally {
          await busy.output();
        }
        assert.ok(
          names.some((e) => /^fusion-cli-[0-9a-f]+@localhost$/.test(e.name)),
          JSON.stringify(names),
        );
        assert.ok(
          names.some((e) => /^h0-[0-9a-f]+@localhost$/.test(e.name)),
          JSON.stringify(names),
        );
        const text = await fusion(["names", "--registry-port", String(port)], env);
        assert.match(text.stdout, new RegExp(`^fusion registry on 127\\.0\\.0\\.1:${port}`));
        // Another cookie gets no listing (docs/PROTOCOL.md, Registry: queries are proven).
        const stranger = await fusion(["names", "--registry-port", String(port), "--json"], {
          ...env,
          FUSION_COOKIE: "not-the-cookie",
        });
        assert.equal(stranger.code, 1, stranger.stderr);
        assert.equal(stranger.stdout, "");
        assert.match(
          stranger.stderr,
          /^fusion: the registry on 127\.0\.0\.1:\d+ refused this cookie/,
        );
      } finally {
        reg.kill("SIGINT");
        const status = await reg.status;
        await regDone;
        await regErr;
        assert.equal(status.code, 0);
      }
      assert.ok(regOut.some((l) => l.includes("stopped")));
      const none = await fusion(["names", "--registry-port", String(port)], env);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /no registry answers/);
    });

    await t.step("Ctrl-C disconnects every host and exits 130", async () => {
      const child = spawnCli(
        ["eval", "h0", "(console.log('started'), new Promise(() => {}))", ...ssh],
        env,
      );
      const out: string[] = [];
      const outDone = readLines(child.stdout, (l) => out.push(l));
      const errText = new Response(child.stderr).text();
      try {
        for (let i = 0; i < 300 && !out.some((l) => l.includes("started")); i++) await sleep(100);
        assert.ok(out.some((l) => l === "[h0] started"), out.join("\n"));
        assert.ok((await host.processes()).length > 0);
      } finally {
        child.kill("SIGINT");
      }
      const status = await child.status;
      await outDone;
      const stderr = await errText;
      assert.equal(status.code, 130, stderr);
      assert.match(stderr, /interrupted/);
      assert.ok(out.some((l) => /^h0\s+FAILED.*AbortError: interrupted/.test(l)), out.join("\n"));
      assert.deepEqual(await host.waitForNoProcesses({ timeoutMs: 10_000 }), []);
    });
  } finally {
    await host.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fusion demo runs the README's story against its embedded SSH server", async () => {
  await ensureAgentBundle();
  const r = await fusion(["demo"], cliEnv());
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.ok(r.stdout.trim().split("\n").length > 1, r.stdout);
});
