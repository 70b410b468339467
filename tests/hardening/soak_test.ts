// The soak, 30 s in CI: steady messages and calls to an agent behind a real sshd, the agent
// killed with SIGKILL on the server every 5 s and reconnected. No acknowledged message is lost
// or duplicated, RSS and open fds stay flat, the server never runs two agents and keeps
// nothing. `deno task soak` runs it longer.
import assert from "node:assert/strict";
import { flatnessViolations, formatCycle, type ProcessSample, runSoak } from "./_soak.ts";
import { sshdUnavailable } from "../support/mod.ts";

const unavailable = await sshdUnavailable();

Deno.test({
  name:
    "soak: 30 s of messages and calls with the agent killed every 5 s loses no acknowledged message, and RSS and fds stay flat",
  ignore: unavailable !== undefined,
  // ssh2 and sshd leave timers and sockets that end shortly after a test.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const r = await runSoak({
      seconds: 30,
      cycleSeconds: 5,
      onCycle: (c) => console.log(formatCycle(c)),
    });
    const t = r.totals;
    console.log(
      `${
        r.seconds.toFixed(1)
      } s, ${t.kills} kills: acked ${t.acked}/${t.sent} (lost in flight ${t.lostInFlight}), ` +
        `calls ${t.calls} (+${t.callsFailed} NodeDownError), max agents ${r.maxAgents}, fds after ${r.fdsAfter}`,
    );
    assert.deepEqual(r.violations, []);
    assert.equal(t.kills, 5);
    assert.ok(t.acked > 1000, `only ${t.acked} messages acked`);
    assert.ok(t.calls > 100, `only ${t.calls} calls`);
    assert.equal(r.maxAgents, 1);
    assert.deepEqual(r.leftOnServer, []);
  },
});

const flat = (fds: number[], rss: number[] = fds.map(() => 200)): ProcessSample[] =>
  fds.map((f, i) => ({ fds: f, rssMiB: rss[i]! }));

Deno.test("soak flatness: noise within the slack passes", () => {
  assert.deepEqual(
    flatnessViolations(flat([60, 40, 42, 39, 44, 41], [150, 180, 200, 190, 230, 210])),
    [],
  );
});

Deno.test("soak flatness: one leaked descriptor per cycle fails, also within the slack", () => {
  assert.notDeepEqual(flatnessViolations(flat([40, 40, 41, 42, 43, 44])), []);
  assert.notDeepEqual(flatnessViolations(flat([40, 40, 42, 44, 46, 48])), []);
});

Deno.test("soak flatness: RSS over the bound, or growing steadily on a long run, fails", () => {
  assert.notDeepEqual(flatnessViolations(flat([40, 40, 40], [100, 100, 160])), []);
  const slow = Array.from({ length: 30 }, (_, i) => 200 + i * 3); // +45% over the run
  assert.notDeepEqual(flatnessViolations(flat(slow.map(() => 40), slow)), []);
});
