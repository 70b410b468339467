/**
 * A process identifier: which node, which process on it, and which incarnation
 * (creation) of that node, so that a restarted node never receives messages
 * meant for its predecessor's processes.
 *
 * @example
 * ```ts
 * import { Node } from "./mod.ts";
 * await using node = await Node.start({ name: "app", registryPort: 0 });
 * const pid = node.spawn(async (ctx) => await ctx.receive());
 * pid.node; // "app@localhost"
 * const jobs = new Map([[String(pid), "resize"]]); // compare pids with equals() or String()
 * ```
 */
export class Pid {
  /** Full name of the node the process lives on, e.g. "app@localhost". */
  readonly node: string;
  /** Serial number of the process on its node. */
  readonly id: number;
  /** Incarnation of the node that spawned the process. */
  readonly creation: number;

  /** Pids come from `spawn` and `inbox().self`; nodes and the decoder make them with this. */
  constructor(node: string, id: number, creation: number) {
    this.node = node;
    this.id = id;
    this.creation = creation;
  }

  /** True when `other` names the same process. */
  equals(other: unknown): boolean {
    return other instanceof Pid && other.id === this.id && other.node === this.node &&
      other.creation === this.creation;
  }

  /** A stable text form, usable as a map key. */
  toString(): string {
    return `#Pid<${this.node}.${this.id}.${this.creation}>`;
  }
}
