/**
 * `deno task soak [--seconds 600] [--cycle 5] [--backend ssh2|system] [--messages 200] [--calls 30]`:
 * the soak of tests/hardening/soak_test.ts for longer, a line per cycle, a summary; exits 1 on a
 * violation.
 * @module
 */
import { parseArgs } from "node:util";
import type { SshBackendKind } from "../../src/ssh/mod.ts";
import { formatCycle, runSoak } from "./_soak.ts";
import { sshdUnavailable } from "../support/mod.ts";

const unavailable = await sshdUnavailable();

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "600" },
    cycle: { type: "string", default: "5" },
    backend: { type: "string", default: "ssh2" },
    messages: { type: "string", default: "200" },
    calls: { type: "string", default: "30" },
  },
});
const num = (name: string, s: string) => {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} wants a positive number, not "${s}"`);
    Deno.exit(2);
  }
  return n;
};
if (values.backend !== "ssh2" && values.backend !== "system") {
  console.error(`--backend is ssh2 or system, not "${values.backend}"`);
  Deno.exit(2);
}
if (unavailable !== undefined) {
  console.error(`no sshd to soak against: ${unavailable}`);
  Deno.exit(2);
}
const seconds = num("seconds", values.seconds);
const cycleSeconds = num("cycle", values.cycle);
console.log(`soak: ${seconds} s, the agent killed every ${cycleSeconds} s (${values.backend})`);
const r = await runSoak({
  seconds,
  cycleSeconds,
  backend: values.backend as SshBackendKind,
  messagesPerSecond: num("messages", values.messages),
  callsPerSecond: num("calls", values.calls),
  onCycle: (c) => console.log(formatCycle(c)),
});
const t = r.totals;
const rss = r.cycles.map((c) => c.rssMiB);
const fds = r.cycles.map((c) => c.fds);
const heap = r.cycles.map((c) => c.heapMiB);
// Least-squares slope of RSS per cycle after the first (warm-up) cycle.
const post = rss.slice(1);
const mx = (post.length - 1) / 2;
const my = post.reduce((a, y) => a + y, 0) / post.length;
const slope = post.reduce((a, y, x) => a + (x - mx) * (y - my), 0) /
  post.reduce((a, _, x) => a + (x - mx) ** 2, 0);
console.log(
  [
    `${r.seconds.toFixed(1)} s, ${r.cycles.length} cycles, ${t.kills} kills`,
    `messages: ${t.acked} acked of ${t.sent} sent; ${t.lostInFlight} lost in flight at kills ` +
    `(${t.receivedNotAcked} of them received, ack lost); no acked message lost or duplicated` +
    (r.violations.some((v) => /ack|recorded/.test(v)) ? " — FALSE, see below" : ""),
    `calls: ${t.calls} ok, ${t.callsFailed} NodeDownError at kills`,
    `RSS ${Math.min(...rss).toFixed(1)}..${Math.max(...rss).toFixed(1)} MiB ` +
    `(${rss[1]?.toFixed(1)} after the warm-up, ${rss.at(-1)?.toFixed(1)} at the end, ` +
    `${(slope || 0).toFixed(2)} MiB per cycle), ` +
    `heap ${Math.min(...heap).toFixed(1)}..${Math.max(...heap).toFixed(1)} MiB, ` +
    `fds ${Math.min(...fds)}..${Math.max(...fds)} (${
      fds.at(-1)
    } at the end, ${r.fdsAfter} after disconnect)`,
    `server: at most ${r.maxAgents} agent at once, ${r.leftOnServer.length} processes left`,
  ].join("\n"),
);
if (r.violations.length) {
  console.log(`FAILED, ${r.violations.length} violations:\n  ${r.violations.join("\n  ")}`);
  Deno.exit(1);
}
console.log("OK");
