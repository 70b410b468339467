import assert from "node:assert/strict";
import { RestartIntensity } from "../../../src/supervisor/_restart_intensity.ts";

Deno.test("RestartIntensity allows intensity restarts within the period and refuses the next", () => {
  let now = 0;
  const r = new RestartIntensity(2, 1000, () => now);
  assert.equal(r.add(), true);
  now = 10;
  assert.equal(r.add(), true);
  now = 20;
  assert.equal(r.add(), false);
});

Deno.test("RestartIntensity forgets restarts older than the period", () => {
  let now = 0;
  const r = new RestartIntensity(1, 1000, () => now);
  assert.equal(r.add(), true);
  now = 1001;
  assert.equal(r.add(), true);
  now = 1500;
  assert.equal(r.add(), false);
});

Deno.test("RestartIntensity counts the loss of one node once, however many children it carried", () => {
  let now = 0;
  const r = new RestartIntensity(1, 1000, () => now);
  assert.equal(r.add("agent-1@localhost"), true);
  assert.equal(r.add("agent-1@localhost"), true);
  assert.equal(r.add("agent-1@localhost"), true);
  now = 5;
  assert.equal(r.add("agent-2@localhost"), false);
});
