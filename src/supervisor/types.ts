import type { ActorContext, ExitReason } from "../actor/types.ts";
import type { Node } from "../node.ts";
import type { ModuleRef } from "../remote/code_client.ts";
import type { NodeManager, NodeManagerOptions } from "../remote/node_manager.ts";
import type { Target } from "../ssh/target.ts";
import type { Pid } from "../wire/pid.ts";

/**
 * Which children a supervisor restarts when one of them has to be restarted
 * (OTP's strategies): only that one, all of them, or that one and every child
 * started after it.
 *
 * @example
 * ```ts ignore
 * // db first, then the api that needs it: when db restarts, api restarts after it.
 * await supervise([dbSpec, apiSpec], { node, strategy: "rest_for_one" });
 * ```
 */
export type Strategy = "one_for_one" | "one_for_all" | "rest_for_one";

/**
 * When a child that ended is restarted: always ("permanent"), only when it
 * ended abnormally, i.e. with a reason other than "normal", "shutdown" or
 * `{ shutdown: … }` ("transient"), or never ("temporary": it is then forgotten).
 *
 * @example
 * ```ts ignore
 * const job: LocalChildSpec = { id: "job", fn: runJob, restart: "transient" };
 * ```
 */
export type RestartType = "permanent" | "transient" | "temporary";

/**
 * What every child spec has.
 *
 * @example
 * ```ts ignore
 * const base: ChildSpecBase = { id: "cache", restart: "permanent", shutdownMs: 2000 };
 * ```
 */
export interface ChildSpecBase {
  /** Names the child; unique among the supervisor's children. */
  id: string;
  /** Default "permanent". */
  restart?: RestartType;
  /**
   * How long the child gets to end after the "shutdown" exit signal before it
   * is killed; 0 kills it at once (OTP's brutal_kill), Infinity waits forever.
   * Default 5000 ms.
   */
  shutdownMs?: number;
}

/**
 * A child actor on a local node: `fn(ctx, ...args)`.
 *
 * @example
 * ```ts ignore
 * const counter: LocalChildSpec = {
 *   id: "counter",
 *   fn: async (ctx, start: number) => {
 *     for (let n = start; ; n++) await ctx.receive();
 *   },
 *   args: [0],
 * };
 * ```
 */
export interface LocalChildSpec extends ChildSpecBase {
  /** The actor body. */
  fn: (ctx: ActorContext, ...args: never[]) => unknown;
  /** Arguments after the context; default none. */
  args?: readonly unknown[];
  /** The local node to spawn it on; default the supervisor's. */
  node?: Node;
}

/**
 * A child actor on a remote node: export `fn` of `module`, spawned with `RemoteNode.spawn`.
 *
 * @example
 * ```ts ignore
 * const worker: RemoteChildSpec = {
 *   id: "worker",
 *   module: new URL("./worker.ts", import.meta.url),
 *   fn: "loop",
 *   args: [inbox.self],
 *   target: "deploy@web-01",
 * };
 * ```
 */
export interface RemoteChildSpec extends ChildSpecBase {
  /** The module holding the actor body (pushed to the remote when it lacks it). */
  module: ModuleRef;
  /** The export to run as `fn(ctx, ...args)`. */
  fn: string;
  /** Arguments after the context (they must be sendable); default none. */
  args?: readonly unknown[];
  /**
   * Where it runs: a target (the supervisor makes and owns one NodeManager per
   * distinct target), or a NodeManager of yours whose node is the supervisor's.
   */
  target: Target | string | NodeManager;
  /** How long one spawn request may take; default 30 000 ms. */
  startTimeoutMs?: number;
}

/**
 * A child: local (a function) or remote (a module and an export on a target).
 *
 * @example
 * ```ts ignore
 * const children: ChildSpec[] = [
 *   { id: "local", fn: async (ctx) => { await ctx.receive(); } },
 *   { id: "remote", module: "./worker.ts", fn: "loop", target: "web-01" },
 * ];
 * ```
 */
export type ChildSpec = LocalChildSpec | RemoteChildSpec;

/**
 * How a supervisor retries reaching a remote child's node while it is
 * unreachable: waits of `initialMs`, growing by `factor` up to `maxMs` (±20 %).
 * Failed attempts do not count towards the restart intensity.
 *
 * @example
 * ```ts ignore
 * await supervise(children, { node, reconnect: { initialMs: 1000, maxMs: 60_000 } });
 * ```
 */
export interface ReconnectOptions {
  /** Wait after the first failed attempt; default 500 ms. */
  initialMs?: number;
  /** Longest wait between attempts; default 30 000 ms. */
  maxMs?: number;
  /** Growth of the wait after each failed attempt; default 2. */
  factor?: number;
}

/**
 * Options for {@linkcode supervise}.
 *
 * @example
 * ```ts ignore
 * const options: SuperviseOptions = {
 *   node,
 *   strategy: "one_for_one",
 *   intensity: 3,
 *   periodMs: 10_000,
 *   connection: { connectTimeoutMs: 10_000 },
 *   onEvent: (e) => console.log(e.type),
 * };
 * ```
 */
export interface SuperviseOptions {
  /** The local node the supervisor runs on; default a shared node started on first use. */
  node?: Node;
  /** Default "one_for_one". */
  strategy?: Strategy;
  /** Restarts allowed within `periodMs`; one more and the supervisor gives up. Default 1. */
  intensity?: number;
  /** The window for `intensity`; default 5000 ms. */
  periodMs?: number;
  /** Backoff while a remote child's node is unreachable. */
  reconnect?: ReconnectOptions;
  /** Options for the NodeManagers the supervisor makes from targets. */
  connection?: Omit<NodeManagerOptions, "node">;
  /** Registers the supervisor under this name on its node. */
  name?: string;
  /** Called with what the supervisor does (starts, exits, reconnect attempts, giving up). */
  onEvent?: (event: SupervisorEvent) => void;
}

/**
 * Where a child stands.
 *
 * @example
 * ```ts ignore
 * const waiting = sup.children().filter((c) => c.status === "waiting_for_node");
 * ```
 */
export type ChildStatus =
  /** Its actor runs. */
  | "running"
  /** It is to be restarted and waits for its node to be reachable again. */
  | "waiting_for_node"
  /** It is to be restarted: its last start failed, or an earlier child is not started yet. */
  | "restarting"
  /** Not running and not to be restarted (a transient child that ended normally, or terminated). */
  | "stopped";

/**
 * One child, as `Supervisor.children()` reports it (OTP's which_children).
 *
 * @example
 * ```ts ignore
 * for (const c of sup.children()) console.log(c.id, c.status, c.node, c.restarts);
 * ```
 */
export interface ChildInfo {
  /** The id from its spec. */
  id: string;
  /** The running actor; undefined unless `status` is "running". */
  pid: Pid | undefined;
  /** Where it stands. */
  status: ChildStatus;
  /** Its restart type (the spec's, default "permanent"). */
  restart: RestartType;
  /** "local" for a function child, "remote" for a module export on a target. */
  kind: "local" | "remote";
  /** The node the actor runs on (a remote child's current agent name). */
  node: string | undefined;
  /** How many times it was restarted. */
  restarts: number;
}

/**
 * Why a supervisor ended.
 *
 * @example
 * ```ts ignore
 * const { reason, cause } = await sup.done; // "shutdown", "reached_max_restart_intensity"
 * ```
 */
export interface SupervisorExit {
  /** Its exit reason as links and monitors see it: "shutdown" unless killed or stopped by a signal. */
  reason: ExitReason;
  /**
   * "terminated": `terminate()`; "reached_max_restart_intensity": more than
   * `intensity` restarts within `periodMs`; "exit_signal": an exit signal from
   * a process that is not its child; "killed": it was killed, or its node
   * closed, or it failed; "start_failed": a child failed to start in `supervise`.
   */
  cause: "terminated" | "reached_max_restart_intensity" | "exit_signal" | "killed" | "start_failed";
}

/**
 * What a supervisor reports to `onEvent`.
 *
 * @example
 * ```ts ignore
 * await supervise(children, {
 *   node,
 *   onEvent: (e) => {
 *     if (e.type === "node_unreachable") console.warn(`${e.target}: retry in ${e.retryInMs} ms`);
 *   },
 * });
 * ```
 */
export type SupervisorEvent =
  | { type: "child_started"; id: string; pid: Pid; node: string; restart: boolean }
  | { type: "child_exited"; id: string; pid: Pid; reason: ExitReason; restarting: boolean }
  | { type: "child_start_failed"; id: string; error: Error }
  | { type: "child_waiting"; id: string; target: string }
  | { type: "node_unreachable"; target: string; attempt: number; error: Error; retryInMs: number }
  | { type: "node_connected"; target: string; node: string }
  | { type: "gave_up"; id: string; reason: ExitReason }
  | { type: "stopped"; exit: SupervisorExit };
