import type { Pid } from "../wire/pid.ts";
import type { Ref } from "../wire/ref.ts";
import type { ReceiveOptions } from "./mailbox.ts";

/**
 * Why a process ended: "normal", "killed", "noproc" (it was already dead),
 * "noconnection" (its node went away), `{ error: { name, message, stack } }`
 * when its body threw, or any value given to `exit`.
 */
export type ExitReason =
  | "normal"
  | "killed"
  | "noproc"
  | "noconnection"
  | { error: { name: string; message: string; stack: string } }
  | unknown;

/** Where a message can go: a pid, a local registered name, or `[name, nodeName]`. */
export type Destination = Pid | string | readonly [name: string, node: string];

/** What a monitor watches: a pid, a local registered name, or `[name, nodeName]`. */
export type MonitorTarget = Destination;

/** Sent to a monitoring process when what it watches ends. */
export interface DownMessage {
  type: "DOWN";
  ref: Ref;
  pid: Pid | readonly [string, string];
  reason: ExitReason;
}

/** Sent to a process that traps exits when a linked process ends. */
export interface ExitMessage {
  type: "EXIT";
  pid: Pid;
  reason: ExitReason;
}

/** A process you drive from outside any actor: a mailbox with an identity. */
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

/** What an actor body gets: its inbox plus its node, spawn and exit. */
export interface ActorContext extends Inbox {
  /** The full name of the node this actor runs on. */
  readonly node: string;
  /** Starts another actor on the same node. */
  spawn<A extends unknown[]>(fn: ActorFn<A>, ...args: A): Pid;
  /** Ends this actor now with `reason` (default "normal"); never returns. */
  exit(reason?: ExitReason): never;
}

/** An actor body: called with its context and the spawn arguments. */
export type ActorFn<A extends unknown[] = unknown[]> = (
  ctx: ActorContext,
  ...args: A
) => unknown;
