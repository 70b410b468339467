import type { ActorContext } from "../actor/types.ts";
import type { Node } from "../node.ts";
import { Pid } from "../wire/pid.ts";

/** The name the agent's system actor is registered under. */
export const SYSTEM_ACTOR_NAME = "fusion";

/** What an agent reports about itself. */
export interface AgentSelfInfo {
  node: string;
  pid: number;
  deno: string;
  os: string;
  arch: string;
  hostname: string;
  cwd: string;
}

/** The agent's node name, pid, Deno version, OS and hostname. */
export function agentSelfInfo(node: string): AgentSelfInfo {
  return {
    node,
    pid: Deno.pid,
    deno: Deno.version.deno,
    os: Deno.build.os,
    arch: Deno.build.arch,
    hostname: Deno.hostname(),
    cwd: Deno.cwd(),
  };
}

/** A request the system actor answers: `{ type: "ping" | "info", from, ref? }`. */
export interface SystemRequest {
  type: "ping" | "info";
  /** Where the answer goes. */
  from: Pid;
  /** Echoed back, to match the answer. */
  ref?: unknown;
}

/**
 * The agent's registered system actor: a long-lived process that answers
 * `ping` with `{ type: "pong", node, ref }` and `info` with
 * `{ type: "info", node, ref, info }`. Monitoring `["fusion", agentName]`
 * watches the agent itself.
 */
export async function systemActor(ctx: ActorContext): Promise<void> {
  for (;;) {
    const m = await ctx.receive<Partial<SystemRequest>>();
    if (!m || typeof m !== "object" || !(m.from instanceof Pid)) continue;
    const ref = m.ref ?? null;
    if (m.type === "ping") ctx.send(m.from, { type: "pong", node: ctx.node, ref });
    else if (m.type === "info") {
      ctx.send(m.from, { type: "info", node: ctx.node, ref, info: agentSelfInfo(ctx.node) });
    }
  }
}

/** Spawns the system actor on `node` and registers it as "fusion". */
export function startSystemActor(node: Node): Pid {
  const pid = node.spawn(systemActor);
  node.register(SYSTEM_ACTOR_NAME, pid);
  return pid;
}
