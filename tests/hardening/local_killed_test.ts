// The local process dies (or hangs) in the middle of a call: the agent exits within the tick
// timeout, taking the processes its user code started with it, and leaves nothing on the server.
import assert from "node:assert/strict";
import { pidAlive } from "../support/_proc.ts";
import { COOKIE, eventually } from "./_helpers.ts";
import { remoteTest } from "./_remote.ts";

const TICK_MS = 2000;
const LOCAL_HUB = new URL("./_fixtures/local_hub.ts", import.meta.url).pathname;

for (const signal of ["SIGKILL", "SIGSTOP"] as const) {
  const how = signal === "SIGKILL" ? "killed (kill -9)" : "frozen (SIGSTOP: its sockets stay open)";
  remoteTest(
    `the local process ${how} mid-run: the agent and what it started exit within the tick timeout`,
    { deadlineMs: 60_000 },
    async ({ host, target }) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", LOCAL_HUB],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      try {
        const w = child.stdin.getWriter();
        const cookie = new TextDecoder().decode(COOKIE);
        await w.write(
          new TextEncoder().encode(
            JSON.stringify({ target, tickTimeoutMs: TICK_MS, cookie }) + "\n",
          ),
        );
        const r = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let out = "";
        while (!out.includes("\n")) {
          const { value, done } = await r.read();
          if (done) throw new Error(`the local hub ended early: ${out}`);
          out += value;
        }
        r.releaseLock();
        const { agentPid, sleepPid } = JSON.parse(out) as { agentPid: number; sleepPid: number };
        assert.ok(pidAlive(agentPid) && pidAlive(sleepPid));
        const t0 = performance.now();
        Deno.kill(child.pid, signal);
        const gone = await eventually(
          () => !pidAlive(agentPid) && !pidAlive(sleepPid),
          TICK_MS * 1.25 + 2000,
          10,
        );
        const ms = performance.now() - t0;
        console.log(`agent and its child gone ${ms.toFixed(0)} ms after ${signal}`);
        assert.ok(gone, "the agent or its child outlived the local process");
        assert.ok(ms <= TICK_MS * 1.25, `gone after ${ms.toFixed(0)} ms`);
        if (signal === "SIGSTOP") {
          // The TCP connection is still open, so sshd's session is too, until the process dies.
          Deno.kill(child.pid, "SIGKILL");
        }
        assert.deepEqual(
          await host.waitForNoProcesses({ timeoutMs: 10_000 }),
          [],
          "left on the server",
        );
      } finally {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
        await child.status;
        await w_close(child);
      }
    },
  );
}

async function w_close(child: Deno.ChildProcess): Promise<void> {
  await child.stdin.close().catch(() => {});
  await child.stdout.cancel().catch(() => {});
}
