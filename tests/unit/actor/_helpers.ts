/**
 * Test helpers for the actor layer: a router that records what it is asked,
 * a loopback "network" joining several actor systems, fake timers.
 * @module
 */
import FakeTimers from "@sinonjs/fake-timers";
import {
  ActorSystem,
  type ExitKind,
  type ExitReason,
  type NamedTarget,
  type RemoteRouter,
} from "../../../src/actor/mod.ts";
import type { Pid } from "../../../src/wire/pid.ts";
import type { Ref } from "../../../src/wire/ref.ts";

/** One call the actor system made on its router: the method name and its arguments. */
export type RouterCall = [method: keyof RemoteRouter, ...args: unknown[]];

/** A router that only records what it is asked to do. */
export class RecordingRouter implements RemoteRouter {
  readonly calls: RouterCall[] = [];
  send(to: Pid, msg: unknown): void {
    this.calls.push(["send", to, msg]);
  }
  sendNamed(name: string, node: string, msg: unknown): void {
    this.calls.push(["sendNamed", name, node, msg]);
  }
  link(from: Pid, to: Pid): void {
    this.calls.push(["link", from, to]);
  }
  unlink(from: Pid, to: Pid): void {
    this.calls.push(["unlink", from, to]);
  }
  exit(from: Pid, to: Pid, reason: ExitReason, kind: ExitKind): void {
    this.calls.push(["exit", from, to, reason, kind]);
  }
  monitor(from: Pid, to: Pid | NamedTarget, ref: Ref): void {
    this.calls.push(["monitor", from, to, ref]);
  }
  demonitor(from: Pid, to: Pid | NamedTarget, ref: Ref): void {
    this.calls.push(["demonitor", from, to, ref]);
  }
  down(from: Pid | NamedTarget, to: Pid, ref: Ref, reason: ExitReason): void {
    this.calls.push(["down", from, to, ref, reason]);
  }
  /** Calls of one method, without the method name. */
  of(method: keyof RemoteRouter): unknown[][] {
    return this.calls.filter((c) => c[0] === method).map((c) => c.slice(1));
  }
}

/** Options for {@linkcode makeSystem}. */
export interface MakeSystemOptions {
  node?: string;
  creation?: number;
  maxMailbox?: number;
}

/** An actor system on a recording router. */
export function makeSystem(
  options: MakeSystemOptions = {},
): { sys: ActorSystem; router: RecordingRouter } {
  const router = new RecordingRouter();
  const sys = new ActorSystem({
    node: options.node ?? "a@localhost",
    creation: options.creation ?? 1,
    router,
    maxMailbox: options.maxMailbox ?? 1000,
  });
  return { sys, router };
}

/**
 * Several actor systems joined as nodes. Each router call becomes the matching
 * call on the destination system one microtask later, in order, like frames on a
 * connection; `disconnect` drops the link and tells both sides `nodeDown`.
 */
export class LoopbackNet {
  readonly #systems = new Map<string, ActorSystem>();
  readonly #cut = new Set<string>();
  /** Every call a system made on its router, as "from->to method". */
  readonly traffic: string[] = [];

  /** Starts a node on this network. */
  add(node: string, creation = 1, maxMailbox = 1000): ActorSystem {
    const sys = new ActorSystem({ node, creation, router: this.#router(node), maxMailbox });
    this.#systems.set(node, sys);
    return sys;
  }

  /** Cuts the connection between two nodes: both get `nodeDown` for the other. */
  disconnect(a: string, b: string): void {
    this.#cut.add(pairKey(a, b));
    this.#systems.get(a)?.nodeDown(b);
    this.#systems.get(b)?.nodeDown(a);
  }

  #deliver(from: string, to: string, method: string, call: (sys: ActorSystem) => void): void {
    // Attempts are recorded even on a cut link: tests check that none are made.
    this.traffic.push(`${from}->${to} ${method}`);
    if (this.#cut.has(pairKey(from, to))) return;
    queueMicrotask(() => {
      if (this.#cut.has(pairKey(from, to))) return;
      const sys = this.#systems.get(to);
      if (sys) call(sys);
    });
  }

  #router(self: string): RemoteRouter {
    const d = (to: string, method: string, call: (sys: ActorSystem) => void) =>
      this.#deliver(self, to, method, call);
    return {
      send: (to, msg) => d(to.node, "send", (s) => s.deliver(to, msg)),
      sendNamed: (name, node, msg) => d(node, "sendNamed", (s) => s.deliverNamed(name, msg)),
      link: (from, to) => d(to.node, "link", (s) => s.remoteLink(from, to)),
      unlink: (from, to) => d(to.node, "unlink", (s) => s.remoteUnlink(from, to)),
      exit: (from, to, reason, kind) =>
        d(to.node, "exit", (s) => s.exitSignal(from, to, reason, kind)),
      monitor: (from, to, ref) => d(nodeOf(to), "monitor", (s) => s.remoteMonitor(from, to, ref)),
      demonitor: (from, to, ref) =>
        d(nodeOf(to), "demonitor", (s) => s.remoteDemonitor(from, to, ref)),
      down: (from, to, ref, reason) =>
        d(to.node, "down", (s) => s.remoteDown(from, to, ref, reason)),
    };
  }
}

function nodeOf(t: Pid | NamedTarget): string {
  return Array.isArray(t) ? t[1] : (t as Pid).node;
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** Lets every queued microtask and a macrotask turn run. */
export function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

/** Runs `fn` with faked setTimeout/clearTimeout/Date, always restoring them. */
export async function withFakeTimers(
  fn: (clock: FakeTimers.Clock) => Promise<void>,
): Promise<void> {
  const clock = FakeTimers.install({
    toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"],
  });
  try {
    await fn(clock);
  } finally {
    clock.uninstall();
  }
}

/** Resolves to "pending" when `p` has not settled after pending microtasks ran. */
export async function state(p: Promise<unknown>): Promise<"pending" | "resolved" | "rejected"> {
  const marker = Symbol();
  try {
    const v = await Promise.race([p, Promise.resolve().then(() => marker)]);
    return v === marker ? "pending" : "resolved";
  } catch {
    return "rejected";
  }
}
