import assert from "node:assert/strict";
import { AGENT_BUNDLE_URL } from "../../../src/agent/bundle_location.ts";
import { buildAgentBundle } from "../../../src/code/build_agent.ts";
import { sha256Hex } from "../../../src/code/sha256_hex.ts";

Deno.test("the committed agent bundle is built from the current sources (else run `deno task build:agent`)", async () => {
  const fresh = await buildAgentBundle();
  const committed = await Deno.readFile(AGENT_BUNDLE_URL);
  assert.equal(sha256Hex(committed), sha256Hex(fresh));
});

Deno.test("the agent bundle carries neither ssh2 nor esbuild", async () => {
  const code = await Deno.readTextFile(AGENT_BUNDLE_URL);
  assert.doesNotMatch(code, /ssh2|esbuild|SSH-2\.0/);
});
