/**
 * A unique reference, as made by `monitor` or for a call.
 *
 * @example
 * ```ts
 * import { type DownMessage, Node } from "./mod.ts";
 * await using node = await Node.start({ registryPort: 0 });
 * using inbox = node.inbox();
 * const ref = inbox.monitor(node.spawn(() => {}));
 * const mine = (m: unknown) => ref.equals((m as DownMessage).ref);
 * const down = await inbox.receive<DownMessage>({ match: mine }); // down.reason: "normal"
 * ```
 */
export class Ref {
  /** Full name of the node that made the reference. */
  readonly node: string;
  /** Serial number on that node. */
  readonly id: number;
  /** Incarnation of the node that made it. */
  readonly creation: number;

  /** Refs come from `monitor`; nodes and the decoder make them with this. */
  constructor(node: string, id: number, creation: number) {
    this.node = node;
    this.id = id;
    this.creation = creation;
  }

  /** True when `other` is the same reference. */
  equals(other: unknown): boolean {
    return other instanceof Ref && other.id === this.id && other.node === this.node &&
      other.creation === this.creation;
  }

  /** A stable text form, usable as a map key. */
  toString(): string {
    return `#Ref<${this.node}.${this.id}.${this.creation}>`;
  }
}
