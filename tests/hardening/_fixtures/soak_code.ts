/** Code the soak pushes to its agents: an acknowledging receiver, and a function to run. */
import type { ActorContext, Pid } from "../../../mod.ts";

/** What the soak's sender sends. */
export interface SoakMessage {
  seq: number;
  from: Pid;
}

/**
 * Records every message's sequence number in the log at `logPath` (one per line, written
 * before the ack, so a kill can only lose unacknowledged ones), then acknowledges it to the
 * sender as `{ ack: seq, inc }`.
 */
export async function acker(ctx: ActorContext, logPath: string, inc: number): Promise<void> {
  const log = Deno.openSync(logPath, { append: true, create: true });
  const enc = new TextEncoder();
  try {
    while (true) {
      const m = await ctx.receive<SoakMessage>();
      log.writeSync(enc.encode(`${m.seq}\n`));
      ctx.send(m.from, { ack: m.seq, inc });
    }
  } finally {
    log.close();
  }
}

/** Twice its argument. */
export function double(n: number): number {
  return n * 2;
}
