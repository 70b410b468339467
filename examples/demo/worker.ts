/**
 * An actor the demo spawns on the server: it answers each job sent to it
 * with the job's square and the node it ran on, until told "stop".
 */
import type { ActorContext, Pid } from "../../mod.ts";

/** A job for the worker. */
export interface Job {
  job: number;
}

/** The worker's answer to a job. */
export interface Done {
  done: number;
  square: number;
  on: string;
  pid: string;
}

/** Replies to `replyTo` for each job until it receives "stop". */
export async function loop(ctx: ActorContext, replyTo: Pid): Promise<void> {
  while (true) {
    const m = await ctx.receive<Job | "stop">();
    if (m === "stop") return;
    ctx.send(replyTo, { done: m.job, square: m.job * m.job, on: ctx.node, pid: String(ctx.self) });
  }
}
