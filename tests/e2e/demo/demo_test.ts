/**
 * `deno task demo` end to end: the whole story against the embedded SSH
 * server, in a subprocess, and that it leaves nothing behind (also when
 * interrupted half-way).
 */
import assert from "node:assert/strict";
import { runDemo } from "../../../src/cli/demo.ts";

const ROOT = new URL("../../../", import.meta.url);
const DEMO = new URL("src/cli/demo.ts", ROOT).pathname;
const STEPS = [
  "ssh server",
  "connect",
  "runFun",
  "run",
  "spawn",
  "messages",
  "stop actor",
  "run again",
  "disconnect",
];

/** Live processes whose command line (or, with `env`, environment) mentions `needle`. */
function processesMentioning(needle: string, env = true): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      const environ = env ? Deno.readTextFileSync(`/proc/${e.name}/environ`) : "";
      if (cmd.includes(needle) || environ.includes(needle)) out.push(Number(e.name));
    } catch { /* gone, or not ours to read */ }
  }
  return out;
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

/** Starts the demo with its own TMPDIR, so what it leaves behind is easy to see. */
function startDemo(tmp: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", DEMO],
    cwd: ROOT.pathname,
    env: { TMPDIR: tmp, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function killIfRunning(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch { /* already exited */ }
  await child.status;
}

async function assertNothingLeft(tmp: string): Promise<void> {
  assert.ok(
    await waitFor(() => processesMentioning(tmp).length === 0),
    `processes left behind: ${processesMentioning(tmp).join(", ")}`,
  );
  assert.deepEqual([...Deno.readDirSync(tmp)].map((e) => e.name), [], "temp files left behind");
}

Deno.test("deno task demo runs every step against the embedded server and exits 0", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "fusion-demo-test-" });
  const child = startDemo(tmp);
  try {
    const out = await child.output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `demo failed:\n${stdout}\n${stderr}`);
    for (const name of STEPS) {
      assert.match(
        stdout,
        new RegExp(`^✓ ${name.replace(" ", "\\s")}\\s+\\d+ ms`, "m"),
        `missing step "${name}" in:\n${stdout}`,
      );
    }
    assert.doesNotMatch(stdout, /^✗/m);
    assert.match(stdout, /^✓ runFun .*deno: "\d+\.\d+\.\d+"/m);
    assert.match(
      stdout,
      /^✓ run .*health\.ts#check \(pushed [1-9][\d.]* (bytes|kB), 2 modules, .*\) → .*hostname: /m,
    );
    assert.match(stdout, /^✓ messages .*squares 1, 4, 9 from remote@localhost/m);
    assert.match(stdout, /^✓ stop actor .*reason "normal"/m);
    assert.match(stdout, /^✓ run again .*\(pushed 0 bytes, 2 modules/m);
    assert.match(stdout, /^✓ connect .*remote@localhost: key auth, strict host key check/m);
    assert.match(stdout, /^done in \d+ ms/m);
    await assertNothingLeft(tmp);
  } finally {
    await killIfRunning(child);
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("Ctrl-C during connect stops the demo with 130 and leaves nothing behind", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "fusion-demo-test-" });
  const child = startDemo(tmp);
  try {
    // Connect (SSH, agent upload, agent start) takes hundreds of ms: SIGINT lands inside it.
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!/^✓ ssh server/m.test(seen)) {
      const { value, done } = await lines.read();
      if (done) break;
      seen += value;
    }
    assert.match(seen, /^✓ ssh server/m, `the demo never started its server:\n${seen}`);
    child.kill("SIGINT");
    while (true) {
      const { value, done } = await lines.read();
      if (done) break;
      seen += value;
    }
    const status = await child.status;
    assert.equal(status.code, 130, seen);
    assert.match(seen, /^✗ connect .*interrupted/m);
    await assertNothingLeft(tmp);
  } finally {
    await killIfRunning(child);
    await child.stderr.cancel().catch(() => {});
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("runDemo() aborted after connect rejects and stops the agent, server and files", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "fusion-demo-test-" });
  const oldTmp = Deno.env.get("TMPDIR");
  Deno.env.set("TMPDIR", tmp);
  const abort = new AbortController();
  const lines: string[] = [];
  let agentRan = false;
  try {
    await assert.rejects(
      runDemo({
        signal: abort.signal,
        log: (line) => {
          lines.push(line);
          if (!line.startsWith("✓ connect")) return;
          // The agent runs from the server's HOME under tmp.
          agentRan = processesMentioning(tmp, false).length > 0;
          abort.abort(new Error("stop here"));
        },
      }),
      /stop here/,
    );
    assert.ok(agentRan, "the agent should have been running after connect");
    assert.match(lines.join("\n"), /^✗ runFun .*stop here/m);
    await assertNothingLeft(tmp);
  } finally {
    if (oldTmp === undefined) Deno.env.delete("TMPDIR");
    else Deno.env.set("TMPDIR", oldTmp);
    await Deno.remove(tmp, { recursive: true });
  }
});
