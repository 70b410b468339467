/** An actor body: answers each { job } with its double, to `replyTo`, until "stop". */
import type { ActorContext, Pid } from "../mod.ts";

export async function loop(ctx: ActorContext, replyTo: Pid): Promise<void> {
  while (true) {
    const m = await ctx.receive<{ job: number } | "stop">();
    if (m === "stop") return;
    ctx.send(replyTo, { job: m.job, result: m.job * 2, on: ctx.node });
  }
}
