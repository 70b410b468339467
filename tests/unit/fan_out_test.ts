import assert from "node:assert/strict";
import { fanOut, type HostState } from "../../src/fan_out.ts";
import type { HostEntry } from "../../src/cli/inventory.ts";

const hosts = (n: number): HostEntry[] =>
  Array.from({ length: n }, (_, i) => ({ label: `h${i}`, target: { host: `h${i}` } }));
const label = (h: HostEntry) => h.label;
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("fanOut yields one result per host, and a failing host does not stop the others", async () => {
  const results = [];
  for await (
    const r of fanOut(hosts(6), async (h) => {
      await delay(Number(h.label.slice(1)) * 3);
      if (h.label === "h2") throw new Error("boom");
      return h.label.toUpperCase();
    }, { parallel: 20, label })
  ) results.push(r);
  assert.equal(results.length, 6);
  const byHost = new Map(results.map((r) => [r.host, r]));
  assert.equal(byHost.get("h2")?.ok, false);
  const failed = byHost.get("h2");
  assert.equal(failed && !failed.ok ? failed.error.message : "", "boom");
  for (const h of ["h0", "h1", "h3", "h4", "h5"]) {
    const r = byHost.get(h);
    assert.deepEqual(r && r.ok ? r.value : undefined, h.toUpperCase());
  }
});

Deno.test("fanOut keeps at most `parallel` hosts working at once", async () => {
  let now = 0;
  let most = 0;
  let count = 0;
  for await (
    const _ of fanOut(hosts(12), async () => {
      now++;
      most = Math.max(most, now);
      await delay(5);
      now--;
    }, { parallel: 3, label })
  ) count++;
  assert.equal(count, 12);
  assert.equal(most, 3);
});

Deno.test("fanOut reports states, and an abort fails queued hosts at once", async () => {
  const states: [string, HostState][] = [];
  const ac = new AbortController();
  const results = [];
  for await (
    const r of fanOut(hosts(4), async (h, ctx) => {
      ctx.state("connecting");
      ctx.state("running");
      if (h.label === "h0") ac.abort();
      if (!ctx.signal.aborted) {
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
      }
      throw new Error("disconnected");
    }, { parallel: 2, label, signal: ac.signal, onState: (h, s) => states.push([h, s]) })
  ) results.push(r);
  assert.equal(results.length, 4);
  for (const r of results) {
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.name, "AbortError");
  }
  assert.deepEqual(states.filter(([h]) => h === "h3").map(([, s]) => s), ["queued", "failed"]);
  assert.deepEqual(states.filter(([h]) => h === "h0").map(([, s]) => s), [
    "queued",
    "connecting",
    "running",
    "failed",
  ]);
});
