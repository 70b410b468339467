/**
 * Builds the agent bundle that connect() uploads: src/agent/main.ts and what it
 * imports, as one ES module for Deno, with `node:` built-ins left external.
 * Run once per Fusion version: `deno task build:agent`. Never runs during a connect.
 * @module
 */
import * as esbuild from "esbuild";
import { AGENT_BUNDLE_URL } from "../agent/bundle_location.ts";

/** Bundles the agent and returns its code. */
export async function buildAgentBundle(): Promise<Uint8Array> {
  const entry = new URL("../agent/main.ts", import.meta.url).pathname;
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    mainFields: ["module", "main"],
    conditions: ["deno", "import", "default"],
    external: ["node:*"],
    // cbor-x probes globalThis.Buffer when it loads: in Deno that getter loads Node's compat
    // layer (node:buffer, util, inspect: ~25 ms of CPU per agent start). Uint8Array does.
    define: {
      "globalThis.Buffer": "undefined",
      // The agent's own timers skip node:timers (see _timers.ts); user code keeps the globals.
      setTimeout: "agentSetTimeout",
      clearTimeout: "agentClearTimeout",
      setInterval: "agentSetInterval",
      clearInterval: "agentClearInterval",
      "Deno.unrefTimer": "agentUnrefTimer",
    },
    inject: [new URL("../agent/_timers.ts", import.meta.url).pathname],
    minify: true,
    keepNames: true,
    legalComments: "none",
    logLevel: "silent",
    nodePaths: [new URL("../../node_modules", import.meta.url).pathname],
  });
  await esbuild.stop();
  const out = result.outputFiles?.[0];
  if (!out) throw new Error("esbuild produced no output for the agent");
  return out.contents;
}

if (import.meta.main) {
  const code = await buildAgentBundle();
  await Deno.writeFile(AGENT_BUNDLE_URL, code);
  console.log(`wrote ${AGENT_BUNDLE_URL.pathname} (${code.length} bytes)`);
}
