/**
 * The actor the supervisor bench supervises, locally and on the remote: it says
 * hello to `reportTo` when it starts, answers pings, crashes on request, and
 * ends normally on "stop".
 * @module
 */
import type { ActorContext } from "../src/actor/types.ts";
import type { Pid } from "../src/wire/pid.ts";

interface Command {
  type?: string;
  from?: Pid;
}

/** Hello on start; `{ type: "ping", from }` → `{ type: "pong", id }`; "crash" throws; "stop" ends. */
export async function worker(ctx: ActorContext, reportTo: Pid, id: string): Promise<void> {
  ctx.send(reportTo, { type: "hello", id, pid: ctx.self });
  for (;;) {
    const m = await ctx.receive<Command>();
    if (m?.type === "ping" && m.from) ctx.send(m.from, { type: "pong", id });
    else if (m?.type === "crash") throw new Error("crash asked for by the bench");
    else if (m?.type === "stop") return;
  }
}
