import { ProtocolError } from "../errors.ts";
import { Pid } from "../wire/pid.ts";
import { Ref } from "../wire/ref.ts";

/** Operation codes of control messages, the first element of each frame after the handshake. */
export const OP = Object.freeze({
  SEND: 1,
  SEND_NAMED: 2,
  LINK: 3,
  UNLINK: 4,
  EXIT: 5,
  EXIT2: 6,
  MONITOR: 7,
  DEMONITOR: 8,
  DOWN: 9,
  REQUEST: 10,
  REPLY: 11,
});

/** A process addressed by name on a node. */
export type Named = readonly [name: string, node: string];

/** A decoded, checked control message. */
export type ControlMessage =
  | { op: typeof OP.SEND; to: Pid; msg: unknown }
  | { op: typeof OP.SEND_NAMED; name: string; node: string; msg: unknown }
  | { op: typeof OP.LINK | typeof OP.UNLINK; from: Pid; to: Pid }
  | { op: typeof OP.EXIT | typeof OP.EXIT2; from: Pid; to: Pid; reason: unknown }
  | { op: typeof OP.MONITOR | typeof OP.DEMONITOR; from: Pid; to: Pid | Named; ref: Ref }
  | { op: typeof OP.DOWN; from: Pid | Named; to: Pid; ref: Ref; reason: unknown }
  | { op: typeof OP.REQUEST; from: Pid; node: string; ref: Ref; kind: string; payload: unknown }
  | { op: typeof OP.REPLY; node: string; ref: Ref; ok: boolean; value: unknown };

/** Builds the wire form of a control message. */
export function encodeControl(m: ControlMessage): unknown[] {
  switch (m.op) {
    case OP.SEND:
      return [m.op, m.to, m.msg];
    case OP.SEND_NAMED:
      return [m.op, m.name, m.node, m.msg];
    case OP.LINK:
    case OP.UNLINK:
      return [m.op, m.from, m.to];
    case OP.EXIT:
    case OP.EXIT2:
      return [m.op, m.from, m.to, m.reason];
    case OP.MONITOR:
    case OP.DEMONITOR:
      return [m.op, m.from, m.to, m.ref];
    case OP.DOWN:
      return [m.op, m.from, m.to, m.ref, m.reason];
    case OP.REQUEST:
      return [m.op, m.from, m.node, m.ref, m.kind, m.payload];
    case OP.REPLY:
      return [m.op, m.node, m.ref, m.ok, m.value];
  }
}

function pid(v: unknown): Pid {
  if (v instanceof Pid) return v;
  throw new ProtocolError("control message: expected a pid");
}

function pidOrNamed(v: unknown): Pid | Named {
  if (v instanceof Pid) return v;
  if (Array.isArray(v) && v.length === 2) return [str(v[0]), str(v[1])];
  throw new ProtocolError("control message: expected a pid or [name, node]");
}

function ref(v: unknown): Ref {
  if (v instanceof Ref) return v;
  throw new ProtocolError("control message: expected a ref");
}

function str(v: unknown): string {
  if (typeof v === "string" && v.length > 0 && v.length <= 255) return v;
  throw new ProtocolError("control message: expected a name");
}

/** Checks a decoded frame's shape and returns it typed; `ProtocolError` otherwise. */
export function decodeControl(v: unknown): ControlMessage {
  if (!Array.isArray(v)) throw new ProtocolError("control message: expected an array");
  const op = v[0];
  const arity = (n: number) => {
    if (v.length !== n) throw new ProtocolError(`control message ${op}: expected ${n} elements`);
  };
  switch (op) {
    case OP.SEND:
      arity(3);
      return { op, to: pid(v[1]), msg: v[2] };
    case OP.SEND_NAMED:
      arity(4);
      return { op, name: str(v[1]), node: str(v[2]), msg: v[3] };
    case OP.LINK:
    case OP.UNLINK:
      arity(3);
      return { op, from: pid(v[1]), to: pid(v[2]) };
    case OP.EXIT:
    case OP.EXIT2:
      arity(4);
      return { op, from: pid(v[1]), to: pid(v[2]), reason: v[3] };
    case OP.MONITOR:
    case OP.DEMONITOR:
      arity(4);
      return { op, from: pid(v[1]), to: pidOrNamed(v[2]), ref: ref(v[3]) };
    case OP.DOWN:
      arity(5);
      return { op, from: pidOrNamed(v[1]), to: pid(v[2]), ref: ref(v[3]), reason: v[4] };
    case OP.REQUEST:
      arity(6);
      return {
        op,
        from: pid(v[1]),
        node: str(v[2]),
        ref: ref(v[3]),
        kind: str(v[4]),
        payload: v[5],
      };
    case OP.REPLY:
      arity(5);
      if (typeof v[3] !== "boolean") throw new ProtocolError("control message: expected ok flag");
      return { op, node: str(v[1]), ref: ref(v[2]), ok: v[3], value: v[4] };
    default:
      // String(op) could throw: a peer's object may carry its own toString.
      throw new ProtocolError(
        `control message: unknown operation ${typeof op === "number" ? op : typeof op}`,
      );
  }
}

/** The node a control message is addressed to, for routing and relaying. */
export function destinationNode(m: ControlMessage): string {
  if (m.op === OP.SEND_NAMED || m.op === OP.REQUEST || m.op === OP.REPLY) return m.node;
  return m.to instanceof Pid ? m.to.node : m.to[1];
}

/** The node a control message claims to come from (undefined for sends, which carry no sender). */
export function sourceNode(m: ControlMessage): string | undefined {
  if (m.op === OP.SEND || m.op === OP.SEND_NAMED || m.op === OP.REPLY) return undefined;
  if (m.op === OP.DOWN) return m.from instanceof Pid ? m.from.node : m.from[1];
  return m.from.node;
}
