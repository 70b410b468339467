import type { Pid } from "../wire/pid.ts";
import type { Ref } from "../wire/ref.ts";
import type { ReceiveOptions } from "./mailbox.ts";

/**
 * Why a process ended: "normal", "killed", "noproc" (it was already dead),
 * "noconnection" (its node went away), `{ error: { name, message, stack } }`
 * when its body threw, or any value given to `exit`.
 *
 * @example
 * ```ts
 * import { Node } from "./mod.ts";
 * await using node = await Node.start({ registryPort: 0 });
 * using inbox = node.inbox();
 * inbox.monitor(node.spawn(() => { throw new Error("boom"); }));
 * const { reason } = await inbox.receive<DownMessage>();
 * // reason: { error: { name: "Error", message: "boom", stack: "…" } }
 * ```
 */
export type ExitReason =
  | "normal"
  | "killed"
  | "noproc"
  | "noconnection"
  | { error: { name: string; message: string; stack: string } }
  | unknown;

/**
 * Where a message can go: a pid, a local registered name, or `[name, nodeName]`.
 *
 * @example
 * ```ts
 * import { Node } from "./mod.ts";
 * await using node = await Node.start({ name: "app", registryPort: 0 });
 * using inbox = node.inbox();
 * node.register("logger", inbox.self);
 * const all: Destination[] = [inbox.self, "logger", ["logger", "app@localhost"]];
 * for (const to of all) node.send(to, "hi"); // inbox gets three "hi"
 * ```
 */
export type Destination = Pid | string | readonly [name: string, node: string];

/**
 * What a monitor watches: a pid, a local registered name, or `[name, nodeName]`.
 *
 * @example
 * ```ts
 * import { Node } from "./mod.ts";
 * await using node = await Node.start({ registryPort: 0 });
 * using inbox = node.inbox();
 * const target: MonitorTarget = "db"; // nothing is registered as "db"
 * inbox.monitor(target);
 * const down = await inbox.receive<DownMessage>(); // at once, with reason "noproc"
 * ```
 */
export type MonitorTarget = Destination;

/**
 * Sent to a monitoring process when what it watches ends.
 *
 * @example
 * ```ts
 * import { Node } from "./mod.ts";
 * await using node = await Node.start({ registryPort: 0 });
 * using inbox = node.inbox();
 * const ref = inbox.monitor(node.spawn(() => {}));
 * const isDown = (m: unknown) => (m as DownMessage)?.type === "DOWN";
 * const down = await inbox.receive<DownMessage>({ match: isDown }); // ref, reason "normal"
 * ```
 */
export interface DownMessage {
  /** Always "DOWN". */
  type: "DOWN";
  /** The ref `monitor` returned. */
  ref: Ref;
  /** What was watched: its pid, or `[name, node]` when watched by name. */
  pid: Pid | readonly [string, string];
  /** Why it ended; "noproc" when it was not alive, "noconnection" when its node went away. */
  reason: ExitReason;
}

/**
 * Sent to a process that traps exits when a linked process ends.
 *
 * @example
 * ```ts
 * import { Node } from "./mod.ts";
 * await using node = await Node.start({ registryPort: 0 });
 * using inbox = node.inbox();
 * inbox.trapExits();
 * inbox.link(node.spawn((ctx) => ctx.exit("crashed")));
 * const exit = await inbox.receive<ExitMessage>(); // { type: "EXIT", pid, reason: "crashed" }
 * ```
 */
export interface ExitMessage {
  /** Always "EXIT". */
  type: "EXIT";
  /** The linked process that ended. */
  pid: Pid;
  /** Why it ended; "noconnection" when its node went away. */
  reason: ExitReason;
}

/**
 * A process you drive from outside any actor: a mailbox with an identity.
 *
 * @example
 * ```ts
 * import { Node } from "./mod.ts";
 * await using node = await Node.start({ registryPort: 0 });
 * using inbox = node.inbox();
 * node.send(inbox.self, { n: 1 });
 * const msg = await inbox.receive<{ n: number }>({ timeoutMs: 1000 }); // { n: 1 }
 * ```
 */
export interface Inbox {
  /** This process's pid. */
  readonly self: Pid;
  /** Takes the first matching message (see {@linkcode ReceiveOptions}). */
  receive<T = unknown>(options?: ReceiveOptions<T>): Promise<T>;
  /** Links to `pid`: when either ends abnormally, the other gets an exit signal. */
  link(pid: Pid): void;
  /** Removes a link. */
  unlink(pid: Pid): void;
  /** Watches a process; a `DOWN` message with the returned ref comes when it ends. */
  monitor(target: MonitorTarget): Ref;
  /** Stops watching; a `DOWN` not yet received for this ref is dropped. */
  demonitor(ref: Ref): void;
  /** When on, exit signals from links arrive as `EXIT` messages instead of ending this process. */
  trapExits(on?: boolean): void;
  /** Sends a message. */
  send(to: Destination, msg: unknown): void;
  /** Ends this process with reason "normal". */
  close(): void;
  /** Same as `close`. */
  [Symbol.dispose](): void;
}

/**
 * What an actor body gets: its inbox plus its node, spawn and exit.
 *
 * @example
 * ```ts
 * import { Node, type Pid } from "./mod.ts";
 * await using node = await Node.start({ registryPort: 0 });
 * const echo = node.spawn(async (ctx: ActorContext) => {
 *   const { from, text } = await ctx.receive<{ from: Pid; text: string }>();
 *   ctx.send(from, `${ctx.node}: ${text}`);
 * });
 * ```
 */
export interface ActorContext extends Inbox {
  /** The full name of the node this actor runs on. */
  readonly node: string;
  /** Starts another actor on the same node. */
  spawn<A extends unknown[]>(fn: ActorFn<A>, ...args: A): Pid;
  /**
   * Ends this actor now with `reason` (default "normal"); never returns, even
   * when called from a timer or a promise the body does not await (there it
   * ends the actor, or does nothing once the actor has ended). Erlang's exit/1.
   */
  exit(reason?: ExitReason): never;
  /**
   * Sends an exit signal from this actor to `to` (Erlang's exit/2): "kill"
   * cannot be trapped; "normal" ends no other process but ends this one when
   * `to` is `ctx.self` (an `EXIT` message instead when trapping exits). Returns
   * only if this actor is still alive.
   */
  exit(to: Pid, reason: ExitReason): void;
}

/**
 * An actor body: called with its context and the spawn arguments.
 *
 * @example
 * ```ts
 * import { Node, type Pid } from "./mod.ts";
 * const counter: ActorFn<[start: number]> = async (ctx, start) => {
 *   for (let n = start;; n++) ctx.send(await ctx.receive<Pid>(), n);
 * };
 * await using node = await Node.start({ registryPort: 0 });
 * const pid = node.spawn(counter, 10);
 * ```
 */
export type ActorFn<A extends unknown[] = unknown[]> = (
  ctx: ActorContext,
  ...args: A
) => unknown;
