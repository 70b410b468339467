/** Helpers for the supervisor unit tests: a node, a reporting worker, and waits. */
import type { ActorContext, ExitMessage, ExitReason, Inbox } from "../../../src/actor/types.ts";
import { Node } from "../../../src/node.ts";
import type { LocalChildSpec, RestartType } from "../../../src/supervisor/mod.ts";
import type { Pid } from "../../../src/wire/pid.ts";

/** What workers report to the test's inbox. */
export type Report =
  | { type: "started"; id: string; pid: Pid }
  | { type: "stopped"; id: string; pid: Pid; reason: ExitReason };

/**
 * A worker: reports when it starts; on "crash" throws, on "stop" returns, on
 * `{ exit }` exits with that reason. With `trap` it traps exits and reports the
 * reason of an exit signal before ending with it (or ignores it when `stubborn`).
 */
export async function worker(
  ctx: ActorContext,
  id: string,
  report: Pid,
  opts: { trap?: boolean; stubborn?: boolean } = {},
): Promise<void> {
  if (opts.trap || opts.stubborn) ctx.trapExits(true);
  ctx.send(report, { type: "started", id, pid: ctx.self });
  for (;;) {
    const m = await ctx.receive<unknown>();
    if (m === "crash") throw new RangeError(`${id} crashed`);
    if (m === "stop") return;
    if (typeof m === "object" && m !== null && "exit" in m) ctx.exit((m as { exit: unknown }).exit);
    if ((m as ExitMessage)?.type === "EXIT") {
      ctx.send(report, { type: "stopped", id, pid: ctx.self, reason: (m as ExitMessage).reason });
      if (!opts.stubborn) ctx.exit((m as ExitMessage).reason);
    }
  }
}

/** A local child spec running {@linkcode worker}. */
export function workerSpec(
  id: string,
  report: Pid,
  extra: { restart?: RestartType; trap?: boolean; stubborn?: boolean; shutdownMs?: number } = {},
): LocalChildSpec {
  const { trap, stubborn, ...rest } = extra;
  return {
    id,
    fn: worker as LocalChildSpec["fn"],
    args: [id, report, { trap: trap ?? false, stubborn: stubborn ?? false }],
    ...rest,
  };
}

/** A node on a private registry, closed by `using`. */
export async function testNode(name = "sup"): Promise<Node> {
  return await Node.start({
    name: `${name}-${crypto.randomUUID().slice(0, 8)}`,
    registryPort: 0,
    cookie: "supervisor-test-cookie",
  });
}

/** The next `n` reports of `type`, in order. */
export async function reports<T extends Report["type"]>(
  inbox: Inbox,
  type: T,
  n: number,
  timeoutMs = 2000,
): Promise<Extract<Report, { type: T }>[]> {
  const out: Extract<Report, { type: T }>[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      await inbox.receive<Extract<Report, { type: T }>>({
        match: (m) => (m as Report)?.type === type,
        timeoutMs,
      }),
    );
  }
  return out;
}

/** True when no report of `type` arrives within `ms`. */
export async function noReport(inbox: Inbox, type: Report["type"], ms = 100): Promise<boolean> {
  try {
    await inbox.receive({ match: (m) => (m as Report)?.type === type, timeoutMs: ms });
    return false;
  } catch {
    return true;
  }
}

/** Waits until `check` is true, polling; throws after `timeoutMs`. */
export async function until(
  check: () => boolean,
  timeoutMs = 3000,
  what = "condition",
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
