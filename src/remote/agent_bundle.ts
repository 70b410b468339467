import { AGENT_BUNDLE_URL } from "../agent/bundle_location.ts";
import { sha256Hex } from "../code/sha256_hex.ts";
import { BootstrapError } from "../errors.ts";

/** The prebuilt agent: its code and the hex sha256 that names it on servers. */
export interface AgentBundle {
  code: Uint8Array;
  hash: string;
}

let cached: Promise<AgentBundle> | undefined;

/** Loads the prebuilt agent bundle once per process. */
export function agentBundle(): Promise<AgentBundle> {
  return cached ??= (async () => {
    let code: Uint8Array;
    try {
      code = new Uint8Array(await (await fetch(AGENT_BUNDLE_URL)).arrayBuffer());
    } catch (e) {
      cached = undefined;
      throw new BootstrapError(
        `the agent bundle is missing at ${AGENT_BUNDLE_URL}; run \`deno task build:agent\``,
        { cause: e },
      );
    }
    return { code, hash: sha256Hex(code) };
  })();
}
