/** A unique reference, as made by `monitor` or for a call. */
export class Ref {
  /** Full name of the node that made the reference. */
  readonly node: string;
  /** Serial number on that node. */
  readonly id: number;
  /** Incarnation of the node that made it. */
  readonly creation: number;

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
