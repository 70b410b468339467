import assert from "node:assert/strict";
import {
  agentClearInterval,
  agentClearTimeout,
  agentSetInterval,
  agentSetTimeout,
} from "../../../src/agent/_timers.ts";
import { buildAgentBundle } from "../../../src/code/build_agent.ts";

Deno.test("agentSetTimeout() fires once with its arguments; agentClearTimeout() cancels", async () => {
  const got: unknown[] = [];
  const cancelled = agentSetTimeout(() => got.push("cancelled"), 5);
  agentClearTimeout(cancelled);
  agentClearTimeout(undefined);
  await new Promise<void>((resolve) => {
    agentSetTimeout(
      (a, b) => {
        got.push([a, b]);
        resolve();
      },
      10,
      "a",
      2,
    );
  });
  await new Promise((r) => agentSetTimeout(r, 20));
  assert.deepEqual(got, [["a", 2]]);
});

Deno.test("agentClearTimeout() and agentClearInterval() cancel a global timer too, as the globals would", async () => {
  let fired = 0;
  const t = setTimeout(() => fired++, 5);
  const i = setInterval(() => fired++, 5);
  agentClearTimeout(t);
  agentClearInterval(i);
  agentClearTimeout({});
  agentClearInterval(42);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(fired, 0);
});

Deno.test("agentSetInterval() repeats until agentClearInterval()", async () => {
  let n = 0;
  await new Promise<void>((resolve) => {
    const t = agentSetInterval(() => {
      if (++n === 3) {
        agentClearInterval(t);
        resolve();
      }
    }, 2);
  });
  await new Promise((r) => agentSetTimeout(r, 20));
  assert.equal(n, 3);
});

Deno.test("agentUnrefTimer() lets the agent exit before the timer fires", async () => {
  const url = new URL("../../../src/agent/_timers.ts", import.meta.url).href;
  const code = `import { agentSetTimeout, agentUnrefTimer } from "${url}";
    agentUnrefTimer(agentSetTimeout(() => console.log("fired"), 10_000));
    agentSetTimeout(() => console.log("kept"), 10);`;
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", code],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "kept");
  assert.ok(performance.now() - t0 < 9000);
});

Deno.test("the agent bundle's own code uses the agent's timers, not the global ones", async () => {
  const code = new TextDecoder().decode(await buildAgentBundle());
  // A bare global call would load node:timers at the agent's first timer.
  assert.doesNotMatch(code, /(^|[^\w$.#"'])(setTimeout|clearTimeout|setInterval|clearInterval)\(/);
  assert.doesNotMatch(code, /Deno\.unrefTimer/);
  assert.doesNotMatch(code, /globalThis\.Buffer/);
});
