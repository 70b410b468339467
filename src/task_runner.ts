/**
 * The task runner: push code to remote nodes and run it there. Each function
 * takes a RemoteNode, or the full name of a connected one.
 * @module
 */
import { NodeDownError } from "./errors.ts";
import { fanOut, type HostResult } from "./fan_out.ts";
import type { ModuleRef, PushResult, RunOptions, SpawnOptions } from "./remote/code_client.ts";
import { NodeManager, type NodeManagerOptions } from "./remote/node_manager.ts";
import { connectedNode, RemoteNode } from "./remote/remote_node.ts";
import { formatTarget, type Target } from "./ssh/target.ts";
import type { Pid } from "./wire/pid.ts";

/**
 * A remote node, or the full name of a connected one.
 *
 * @example
 * ```ts ignore
 * import { connect, run } from "./mod.ts";
 * await using remote = await connect("deploy@web-01");
 * await run(remote, "./jobs.ts", "nightly"); // the RemoteNode
 * await run(remote.name, "./jobs.ts", "nightly"); // or its name while it is connected
 * ```
 */
export type NodeRef = RemoteNode | string;

function resolve(remote: NodeRef): RemoteNode {
  if (remote instanceof RemoteNode) return remote;
  const node = typeof remote === "string" ? connectedNode(remote) : undefined;
  if (!node) throw new NodeDownError(String(remote), `no connected node is named ${remote}`);
  return node;
}

/**
 * Calls export `fn` of `module` on `remote` with `args`, pushing the module
 * (and what it imports) when the remote lacks it. Resolves with the result.
 *
 * @example
 * ```ts ignore
 * const health = await run(remote, new URL("./health.ts", import.meta.url), "check", []);
 * ```
 */
export function run(
  remote: NodeRef,
  module: ModuleRef,
  fn: string,
  args: unknown[] = [],
  options: RunOptions = {},
): Promise<unknown> {
  return Promise.resolve().then(() => resolve(remote).run(module, fn, args, options));
}

/**
 * Ships a self-contained function by its source and calls it on `remote`.
 *
 * @example
 * ```ts ignore
 * const sum = await runFun(remote, (a: number, b: number) => a + b, [1, 2]); // 3
 * ```
 */
export function runFun<A extends unknown[], R>(
  remote: NodeRef,
  fn: (...args: A) => R,
  args?: A,
  options: RunOptions = {},
): Promise<Awaited<R>> {
  return Promise.resolve().then(() => resolve(remote).runFun(fn, args, options));
}

/**
 * Pushes `module` and what it imports, unless the remote holds it already.
 *
 * @example
 * ```ts ignore
 * const { hash, bytes } = await pushModule(remote, "./worker.ts"); // bytes is 0 the second time
 * ```
 */
export function pushModule(remote: NodeRef, module: ModuleRef): Promise<PushResult> {
  return Promise.resolve().then(() => resolve(remote).pushModule(module));
}

/**
 * Pushes several modules, asking the remote once which it lacks.
 *
 * @example
 * ```ts ignore
 * await pushModules(remote, ["./config.ts", "./utils.ts"]);
 * ```
 */
export function pushModules(remote: NodeRef, modules: readonly ModuleRef[]): Promise<PushResult[]> {
  return Promise.resolve().then(() => resolve(remote).pushModules(modules));
}

/**
 * Starts an actor on `remote` whose body is export `fn` of `module`, called
 * as `fn(ctx, ...args)`. Resolves with its pid. With `options.link` it is
 * linked to that local process before its body runs (OTP's spawn_link).
 *
 * @example
 * ```ts ignore
 * const worker = await spawn(remote, new URL("./worker.ts", import.meta.url), "loop", [inbox.self]);
 * node.send(worker, { job: 1 });
 * ```
 */
export function spawn(
  remote: NodeRef,
  module: ModuleRef,
  fn: string,
  args: unknown[] = [],
  options: SpawnOptions = {},
): Promise<Pid> {
  return Promise.resolve().then(() => resolve(remote).spawn(module, fn, args, options));
}

export type { HostResult } from "./fan_out.ts";

/**
 * Options for {@linkcode runMany}.
 *
 * @example
 * ```ts ignore
 * const options: RunManyOptions = {
 *   parallel: 50,
 *   timeoutMs: 60_000,
 *   onState: (host, state) => console.log(host, state),
 *   signal: AbortSignal.timeout(10 * 60_000),
 * };
 * const results = await runMany(hosts, "./deploy.ts", "main", [], options).collect();
 * ```
 */
export interface RunManyOptions extends RunOptions, Omit<NodeManagerOptions, "name"> {
  /** Hosts worked on at once; default 20. */
  parallel?: number;
  /** Called when a host changes state ("connecting", "running", "done", "failed"). */
  onState?: (host: string, state: "connecting" | "running" | "done" | "failed") => void;
  /** Stops starting new hosts and disconnects the running ones. */
  signal?: AbortSignal;
}

/**
 * The results of {@linkcode runMany}: an async iterator, collectable into an array.
 *
 * @example
 * ```ts ignore
 * const results: RunManyResults = runMany(["web-01", "web-02"], "./health.ts", "check");
 * for await (const r of results) console.log(r.host, r.ok); // as each host finishes
 * // or, in the order given: const all = await results.collect();
 * ```
 */
export interface RunManyResults extends AsyncIterable<HostResult> {
  /** Waits for every host and returns the results in the order the hosts were given. */
  collect(): Promise<HostResult[]>;
}

/**
 * What runMany does on each connected host.
 *
 * @example
 * ```ts ignore
 * const denoVersion: HostTask = async (remote) => (await remote.info()).deno;
 * for await (const r of runMany(["web-01", "web-02"], denoVersion)) {
 *   console.log(r.host, r.ok ? r.value : r.error.message);
 * }
 * ```
 */
export type HostTask = (remote: RemoteNode) => Promise<unknown>;

/**
 * Connects to each target (at most `parallel` at once), runs export `fn` of
 * `module` there, disconnects, and yields each host's result as it finishes.
 * A failing host never stops the others. `module` may also be a function
 * taking the RemoteNode, for anything else to do on each host.
 *
 * @example
 * ```ts ignore
 * for await (const r of runMany(["web-01", "web-02"], "./health.ts", "check", [], { parallel: 20 })) {
 *   console.log(r.host, r.ok ? r.value : r.error.message, `${r.ms} ms`);
 * }
 * ```
 */
export function runMany(
  targets: readonly (Target | string)[],
  module: ModuleRef | HostTask,
  fn = "",
  args: unknown[] = [],
  options: RunManyOptions = {},
): RunManyResults {
  const task: HostTask = typeof module === "function"
    ? module
    : (remote) => remote.run(module, fn, args, options);
  const started = runOnHosts(targets, task, options);
  return {
    [Symbol.asyncIterator]: () => started[Symbol.asyncIterator](),
    async collect() {
      const all: HostResult[] = [];
      for await (const r of started) all.push(r);
      const order = new Map(targets.map((t, i) => [hostLabel(t), i]));
      return all.sort((a, b) => (order.get(a.host) ?? 0) - (order.get(b.host) ?? 0));
    },
  };
}

function hostLabel(t: Target | string): string {
  return typeof t === "string" ? t : formatTarget(t);
}

function runOnHosts(
  targets: readonly (Target | string)[],
  task: HostTask,
  options: RunManyOptions,
): AsyncGenerator<HostResult> {
  const { parallel, onState, signal, timeoutMs: _t, ...managerOptions } = options;
  return fanOut(targets, async (target, ctx) => {
    ctx.state("connecting");
    const manager = new NodeManager(target, managerOptions);
    const abort = () => void manager.disconnect();
    ctx.signal.addEventListener("abort", abort, { once: true });
    try {
      const remote = await manager.connect();
      ctx.state("running");
      return await task(remote);
    } finally {
      ctx.signal.removeEventListener("abort", abort);
      await manager.disconnect().catch(() => {});
    }
  }, {
    parallel: parallel ?? 20,
    label: hostLabel,
    ...(signal ? { signal } : {}),
    ...(onState ? { onState: (host, state) => state !== "queued" && onState(host, state) } : {}),
  });
}
