import type { Node } from "../node.ts";
import type { Pid } from "../wire/pid.ts";
import type { SupervisorCore } from "./_supervisor_core.ts";
import type { ChildInfo, ChildSpec, SupervisorExit } from "./types.ts";

/**
 * A running supervisor, as {@linkcode supervise} returns it. The supervisor
 * itself is an actor on `node` (its pid is `pid`): it traps exits and is
 * linked to each child. Calls on it are carried out by that actor, one at a
 * time, in order.
 *
 * @example
 * ```ts ignore
 * await using sup = await supervise([{ id: "a", fn: loop }], { node });
 * sup.children(); // [{ id: "a", status: "running", pid, node: "app@localhost", … }]
 * await sup.terminateChild("a");
 * await sup.restartChild("a");
 * ```
 */
export class Supervisor implements AsyncDisposable {
  /** The supervisor's actor. Link to or monitor it like any process. */
  readonly pid: Pid;
  /** The local node it runs on. */
  readonly node: Node;
  readonly #core: SupervisorCore;

  /** @internal Made by supervise(). */
  constructor(pid: Pid, node: Node, core: SupervisorCore) {
    this.pid = pid;
    this.node = node;
    this.#core = core;
  }

  /** Settles with why the supervisor ended, once it has (its children are shut down by then). */
  get done(): Promise<SupervisorExit> {
    return this.#core.done;
  }

  /** Whether it is still running. */
  get running(): boolean {
    return !this.#core.finished;
  }

  /** Its children in start order, with their pids and states (OTP's which_children). */
  children(): ChildInfo[] {
    return this.#core.children();
  }

  /**
   * Adds a child and starts it; resolves with its pid. Rejects (and keeps no
   * child) when its id is taken or it cannot start, e.g. its node is unreachable.
   */
  async startChild(spec: ChildSpec): Promise<Pid> {
    return await this.#core.command(this.pid, { op: "start_child", spec }) as Pid;
  }

  /** Shuts a child down and keeps it, stopped, until `restartChild` or `deleteChild` (a temporary child is forgotten). */
  async terminateChild(id: string): Promise<void> {
    await this.#core.command(this.pid, { op: "terminate_child", id });
  }

  /**
   * Starts a stopped child again; resolves with its pid, or undefined when it
   * now waits for its node to be reachable.
   */
  async restartChild(id: string): Promise<Pid | undefined> {
    return await this.#core.command(this.pid, { op: "restart_child", id }) as Pid | undefined;
  }

  /** Forgets a stopped child. */
  async deleteChild(id: string): Promise<void> {
    await this.#core.command(this.pid, { op: "delete_child", id });
  }

  /**
   * Shuts every child down (in reverse start order), disconnects the
   * NodeManagers the supervisor made, and ends the supervisor with reason
   * "shutdown". Resolves when all that is done; at once when it has ended already.
   */
  async terminate(): Promise<void> {
    if (!this.#core.finished) {
      await this.#core.command(this.pid, { op: "terminate" }).catch(() => {});
    }
    await this.#core.done;
  }

  /** Same as `terminate`. */
  close(): Promise<void> {
    return this.terminate();
  }

  /** Same as `terminate`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.terminate();
  }
}
