import { ProtocolError } from "../errors.ts";

/** The oldest Deno the agent runs on. */
export const MIN_DENO_VERSION = "2.0.0";

/** The agent's exit status when the Deno running it is older than {@linkcode MIN_DENO_VERSION}. */
export const AGENT_EXIT_OLD_DENO = 93;

/** What the manager tells a starting agent over stdin (never argv, never env). */
export interface AgentConfig {
  /** Config format version. */
  v: 1;
  /** The agent's full node name. */
  name: string;
  /** HMAC(cookie, name): proves `name` and nothing else. */
  ticket: Uint8Array;
  /** The hub's full node name: the agent's only peer. */
  hub: string;
  /** "tcp": through the tunnels; "stdio": over this exec channel. */
  mode: "tcp" | "stdio";
  /** Server-side end of the reverse tunnel to the registry (tcp mode). */
  registryPort: number;
  /** Server-side end of the reverse tunnel to the hub's listener (tcp mode). */
  hubPort: number;
  /** Silence after which the hub counts as gone. */
  tickTimeoutMs: number;
}

/** Checks a decoded config frame. */
export function parseAgentConfig(v: unknown): AgentConfig {
  const c = v as Partial<AgentConfig> | null;
  const port = (p: unknown) => typeof p === "number" && Number.isInteger(p) && p >= 0 && p < 65536;
  if (
    !c || typeof c !== "object" || c.v !== 1 || typeof c.name !== "string" ||
    !(c.ticket instanceof Uint8Array) || typeof c.hub !== "string" ||
    (c.mode !== "tcp" && c.mode !== "stdio") || !port(c.registryPort) || !port(c.hubPort) ||
    typeof c.tickTimeoutMs !== "number" || c.tickTimeoutMs <= 0
  ) {
    throw new ProtocolError("agent: malformed configuration on stdin");
  }
  return c as AgentConfig;
}

/** True when Deno version `have` is at least `want` (both "x.y.z"). */
export function versionAtLeast(have: string, want: string): boolean {
  const a = have.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
  const b = want.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}
