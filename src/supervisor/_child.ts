import type { ActorFn } from "../actor/types.ts";
import type { Node } from "../node.ts";
import { NodeManager } from "../remote/node_manager.ts";
import { parseTarget, type Target } from "../ssh/target.ts";
import type { Pid } from "../wire/pid.ts";
import type {
  ChildInfo,
  ChildSpec,
  ChildStatus,
  LocalChildSpec,
  RemoteChildSpec,
  RestartType,
} from "./types.ts";

const RESTART_TYPES: readonly string[] = ["permanent", "transient", "temporary"];
const DEFAULT_SHUTDOWN_MS = 5000;
const DEFAULT_START_TIMEOUT_MS = 30_000;

/** A child as the supervisor keeps it. */
export interface Child {
  readonly id: string;
  readonly spec: ChildSpec;
  readonly restart: RestartType;
  readonly shutdownMs: number;
  readonly kind: "local" | "remote";
  /** Local children: the node to spawn on. */
  readonly localNode: Node | undefined;
  /** Remote children: their manager, or the target to make one for. */
  readonly target: NodeManager | Target | undefined;
  /** Remote children: children with the same key share a manager. */
  readonly endpointKey: NodeManager | string | undefined;
  readonly startTimeoutMs: number;
  pid: Pid | undefined;
  node: string | undefined;
  status: ChildStatus;
  started: boolean;
  restarts: number;
}

/** True for a remote spec. */
export function isRemoteSpec(spec: ChildSpec): spec is RemoteChildSpec {
  return "module" in spec && spec.module !== undefined;
}

/** A remote spec's manager or parsed target, and its key: the manager, or the target as JSON. */
export function remoteTarget(
  target: RemoteChildSpec["target"],
): { target: NodeManager | Target; key: NodeManager | string } {
  if (target instanceof NodeManager) return { target, key: target };
  const parsed: Target = typeof target === "string" ? parseTarget(target) : target;
  return { target: parsed, key: JSON.stringify(parsed) };
}

/** Checks a spec (throwing TypeError or TargetError) and makes its child record. */
export function makeChild(spec: ChildSpec): Child {
  if (!spec || typeof spec !== "object") throw new TypeError("a child spec must be an object");
  if (typeof spec.id !== "string" || spec.id === "") {
    throw new TypeError("a child spec needs an id (a non-empty string)");
  }
  const restart = spec.restart ?? "permanent";
  if (!RESTART_TYPES.includes(restart)) {
    throw new TypeError(
      `child "${spec.id}": restart must be "permanent", "transient" or "temporary", not ${
        JSON.stringify(restart)
      }`,
    );
  }
  const shutdownMs = spec.shutdownMs ?? DEFAULT_SHUTDOWN_MS;
  if (typeof shutdownMs !== "number" || !(shutdownMs >= 0)) {
    throw new TypeError(`child "${spec.id}": shutdownMs must be a number >= 0 (or Infinity)`);
  }
  if (spec.args !== undefined && !Array.isArray(spec.args)) {
    throw new TypeError(`child "${spec.id}": args must be an array`);
  }
  const base = {
    id: spec.id,
    spec,
    restart,
    shutdownMs,
    pid: undefined,
    node: undefined,
    status: "stopped" as ChildStatus,
    started: false,
    restarts: 0,
  };
  if (isRemoteSpec(spec)) {
    if (typeof spec.fn !== "string" || spec.fn === "") {
      throw new TypeError(`child "${spec.id}": fn must name an export of the module`);
    }
    if (spec.target === undefined) {
      throw new TypeError(`child "${spec.id}": a remote child needs a target`);
    }
    const { target, key } = remoteTarget(spec.target);
    return {
      ...base,
      kind: "remote",
      localNode: undefined,
      target,
      endpointKey: key,
      startTimeoutMs: spec.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    };
  }
  if (typeof (spec as LocalChildSpec).fn !== "function") {
    throw new TypeError(
      `child "${spec.id}": fn must be a function (or give module, fn and target for a remote child)`,
    );
  }
  return {
    ...base,
    kind: "local",
    localNode: (spec as LocalChildSpec).node,
    target: undefined,
    endpointKey: undefined,
    startTimeoutMs: 0,
  };
}

/** The body and arguments of a local child. */
export function localBody(child: Child): { fn: ActorFn<unknown[]>; args: unknown[] } {
  const spec = child.spec as LocalChildSpec;
  return { fn: spec.fn as ActorFn<unknown[]>, args: [...(spec.args ?? [])] };
}

/** What `children()` reports. */
export function childInfo(child: Child): ChildInfo {
  return {
    id: child.id,
    pid: child.pid,
    status: child.status,
    restart: child.restart,
    kind: child.kind,
    node: child.node,
    restarts: child.restarts,
  };
}
