import type { DownMessage } from "../actor/types.ts";
import { acquireDefaultNode, releaseDefaultNode } from "../remote/default_node.ts";
import { makeChild } from "./_child.ts";
import { SupervisorCore } from "./_supervisor_core.ts";
import { Supervisor } from "./supervisor.ts";
import type { ChildSpec, Strategy, SuperviseOptions } from "./types.ts";

const STRATEGIES: readonly string[] = ["one_for_one", "one_for_all", "rest_for_one"];

/**
 * Starts a supervisor (an actor on `options.node`) and its children, in
 * order; resolves once all of them run. When one cannot start (a bad spec,
 * an unreachable node, a failing spawn) it rejects, after shutting down those
 * already started.
 *
 * A child that ends is restarted by its restart type and the strategy; more
 * than `intensity` restarts within `periodMs` and the supervisor shuts
 * everything down and ends with reason "shutdown" (`done` says
 * "reached_max_restart_intensity"). A remote child whose node goes down ends
 * with "noconnection" and is restarted once its NodeManager reaches the server
 * again (a new agent, under a new node name), retried with backoff meanwhile.
 * See docs/SUPERVISORS.md.
 *
 * @example
 * ```ts ignore
 * const sup = await supervise([
 *   { id: "cache", fn: cacheLoop, args: [1000] },
 *   { id: "worker", module: new URL("./worker.ts", import.meta.url), fn: "loop", target: "deploy@web-01" },
 * ], { node, strategy: "one_for_one", intensity: 3, periodMs: 10_000 });
 * console.log(sup.children());
 * await sup.terminate();
 * ```
 */
export async function supervise(
  children: readonly ChildSpec[],
  options: SuperviseOptions = {},
): Promise<Supervisor> {
  if (!Array.isArray(children)) throw new TypeError("supervise needs an array of child specs");
  const strategy: Strategy = options.strategy ?? "one_for_one";
  if (!STRATEGIES.includes(strategy)) {
    throw new TypeError(
      `strategy must be "one_for_one", "one_for_all" or "rest_for_one", not ${
        JSON.stringify(strategy)
      }`,
    );
  }
  const intensity = options.intensity ?? 1;
  const periodMs = options.periodMs ?? 5000;
  if (!Number.isInteger(intensity) || intensity < 0) {
    throw new TypeError("intensity must be an integer >= 0");
  }
  if (!(periodMs > 0)) throw new TypeError("periodMs must be > 0");
  const r = options.reconnect ?? {};
  const reconnect = {
    initialMs: r.initialMs ?? 500,
    maxMs: r.maxMs ?? 30_000,
    factor: r.factor ?? 2,
  };
  if (
    !(reconnect.initialMs > 0 && reconnect.maxMs >= reconnect.initialMs && reconnect.factor >= 1)
  ) {
    throw new TypeError("reconnect needs initialMs > 0, maxMs >= initialMs and factor >= 1");
  }
  // Bad specs throw here, before anything starts.
  for (const spec of children) makeChild(spec);

  const ownsNode = options.node === undefined;
  const node = options.node ?? await acquireDefaultNode();
  let core: SupervisorCore;
  try {
    core = new SupervisorCore(children, {
      node,
      strategy,
      intensity,
      periodMs,
      reconnect,
      connection: options.connection,
      onEvent: options.onEvent,
    });
  } catch (e) {
    if (ownsNode) await releaseDefaultNode();
    throw e;
  }
  if (ownsNode) core.done.then(() => releaseDefaultNode());
  const pid = node.spawn((ctx) => core.run(ctx));
  // Its body runs from the next microtask: when it is killed before that, it never runs.
  const watch = node.inbox();
  watch.monitor(pid);
  watch.receive<DownMessage>({ match: (m) => (m as DownMessage)?.type === "DOWN" })
    .then((m) => core.neverRan(m.reason), () => core.neverRan("killed"))
    .finally(() => watch.close());
  if (options.name !== undefined) {
    try {
      node.register(options.name, pid);
    } catch (e) {
      node.exit(pid, "kill");
      await core.done;
      throw e;
    }
  }
  await core.ready;
  return new Supervisor(pid, node, core);
}
