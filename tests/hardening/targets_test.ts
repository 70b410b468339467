// Targets and their files: malformed host specs give a TargetError in one line and nothing
// else (fuzzed); a missing key file or an unreadable known_hosts fails that connect, and only
// that host of a runMany, with a one-line error. (CLI exit codes: tests/unit/cli.)
import assert from "node:assert/strict";
import { ConnectError, HostKeyError, TargetError } from "../../src/errors.ts";
import { NodeManager } from "../../src/remote/mod.ts";
import { formatTarget, parseTarget, type Target } from "../../src/ssh/mod.ts";
import { runMany } from "../../src/task_runner.ts";
import { describe, Rng, Tally } from "../support/fuzz.ts";
import { remoteTest } from "./_remote.ts";

const SPECS = 50_000;
const VALID = [
  "web-01",
  "deploy@10.0.1.5",
  "deploy@10.0.1.5:2222",
  "ssh://ops@host.example.com:22/",
  "[::1]:22",
  "fe80::1%eth0",
  "user.name@a_b",
  "a@b@c",
];
const PIECES = [
  "@",
  ":",
  "[",
  "]",
  "/",
  "ssh://",
  "-oProxyCommand=touch /tmp/x",
  "-",
  "..",
  " ",
  "\n",
  "\t",
  "\u0000",
  "\u007f",
  "65536",
  "0",
  "99999999",
  "é",
  "%",
  "::",
  "$(id)",
  "`id`",
  ";",
  "'",
  '"',
  "\\",
];

function spec(rng: Rng): string {
  let s = rng.pick(VALID);
  for (let k = 1 + rng.int(3); k > 0; k--) {
    const at = rng.int(s.length + 1);
    switch (rng.int(4)) {
      case 0:
        s = s.slice(0, at) + rng.pick(PIECES) + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + rng.int(4));
        break;
      case 2:
        s = s.slice(0, at) + String.fromCharCode(rng.int(128)) + s.slice(at + 1);
        break;
      default:
        s = rng.chance(0.5) ? s.slice(0, at) : s.slice(at);
    }
  }
  return s;
}

Deno.test(`parseTarget() answers ${SPECS.toLocaleString("en")} mutated host specs with a safe Target or a one-line TargetError`, () => {
  const rng = new Rng(0x5eed_7a7);
  const tally = new Tally();
  for (let i = 0; i < SPECS; i++) {
    tally.inputs++;
    const s = spec(rng);
    let t: Target;
    try {
      t = parseTarget(s);
    } catch (e) {
      if (!(e instanceof TargetError)) tally.crash(`${JSON.stringify(s)}: ${describe(e)}`);
      // deno-lint-ignore no-control-regex
      else if (/[\n\r\x00-\x1f\x7f]/.test(e.message)) {
        tally.crash(
          `${JSON.stringify(s)}: the message is not one clean line: ${JSON.stringify(e.message)}`,
        );
      }
      tally.refused++;
      continue;
    }
    tally.accepted++;
    // What is accepted cannot smuggle an option or a shell word into an ssh command line.
    const parts = [t.host, t.username ?? ""];
    if (parts.some((p) => p.startsWith("-") || /[\s'"`$;\\\/]/.test(p))) {
      tally.crash(`${JSON.stringify(s)} gave a dangerous target ${JSON.stringify(t)}`);
    }
    if (t.port !== undefined && !(Number.isInteger(t.port) && t.port >= 1 && t.port <= 65535)) {
      tally.crash(`${JSON.stringify(s)} gave port ${t.port}`);
    }
    try {
      assert.deepEqual(parseTarget(formatTarget(t)), t);
    } catch (e) {
      tally.crash(`${JSON.stringify(s)}: formatTarget() does not parse back: ${describe(e)}`);
    }
  }
  console.log(`target fuzz: ${tally}`);
  assert.deepEqual(tally.crashes, []);
  assert.ok(tally.accepted > 1000 && tally.refused > 1000, String(tally));
});

for (const backend of ["ssh2", "system"] as const) {
  remoteTest(
    `${backend}: a missing key file or an unreadable known_hosts fails that connect in one line, and only that host of a runMany`,
    { deadlineMs: 90_000 },
    async ({ host, hub, target, t }) => {
      const base: Target = { ...target, sshBackend: backend };
      const bad: [string, Target, new (...a: never[]) => Error, RegExp][] = [
        [
          "a missing key file",
          { ...base, auth: { key: `${host.dir}/no_such_key` } },
          ConnectError,
          /no_such_key/,
        ],
        [
          "a known_hosts that cannot be read (a directory)",
          { ...base, hostKeys: { policy: "strict", knownHosts: host.dir } },
          ConnectError,
          /known_hosts/,
        ],
        [
          "a known_hosts that does not exist (strict: the host is unknown)",
          { ...base, hostKeys: { policy: "strict", knownHosts: `${host.dir}/nothing_here` } },
          HostKeyError,
          /./,
        ],
      ];
      for (const [what, t2, Class, mention] of bad) {
        await t.step(what, async () => {
          const manager = new NodeManager(t2, { node: hub, output: () => {} });
          await assert.rejects(manager.connect(), (e: unknown) => {
            assert.ok(e instanceof Class, `${e}`);
            assert.match((e as Error).message, mention);
            assert.ok(
              !(e as Error).message.includes("\n"),
              `not one line: ${(e as Error).message}`,
            );
            return true;
          });
          assert.equal(manager.status(), "disconnected");
        });
      }
      await t.step("runMany fails only the host with the bad file", async () => {
        const results = [];
        for await (
          const r of runMany(
            [base, bad[0]![1], bad[1]![1]],
            async (remote) => await remote.runFun(() => "ran"),
            "",
            [],
            { node: hub, output: () => {} },
          )
        ) results.push(r);
        assert.equal(results.length, 3);
        const ok = results.filter((r) => r.ok);
        const failed = results.filter((r) => !r.ok);
        assert.equal(ok.length, 1);
        assert.equal(ok[0]!.ok && ok[0]!.value, "ran");
        assert.equal(failed.length, 2);
        for (const f of failed) {
          const e = (f as { error: Error }).error;
          assert.ok(e instanceof ConnectError, String(e));
          assert.ok(!e.message.includes("\n"), e.message);
        }
      });
      assert.deepEqual(await host.waitForNoProcesses(), []);
    },
  );
}
