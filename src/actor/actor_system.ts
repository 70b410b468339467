import { NameTakenError, NoProcError } from "../errors.ts";
import { Pid } from "../wire/pid.ts";
import { Ref } from "../wire/ref.ts";
import { Mailbox, type ReceiveOptions } from "./mailbox.ts";
import type {
  ActorContext,
  ActorFn,
  Destination,
  ExitReason,
  Inbox,
  MonitorTarget,
} from "./types.ts";

/** How exit signals differ: from a link, or sent explicitly with `exit(pid, reason)`. */
export type ExitKind = "link" | "exit";

/** A name on a node, as monitors and sends may address a process. */
export type NamedTarget = readonly [name: string, node: string];

/** What the actor system asks of its node for pids and names on other nodes. */
export interface RemoteRouter {
  send(to: Pid, msg: unknown): void;
  sendNamed(name: string, node: string, msg: unknown): void;
  link(from: Pid, to: Pid): void;
  unlink(from: Pid, to: Pid): void;
  exit(from: Pid, to: Pid, reason: ExitReason, kind: ExitKind): void;
  monitor(from: Pid, to: Pid | NamedTarget, ref: Ref): void;
  demonitor(from: Pid, to: Pid | NamedTarget, ref: Ref): void;
  down(from: Pid | NamedTarget, to: Pid, ref: Ref, reason: ExitReason): void;
}

/** Options for {@linkcode ActorSystem}. */
export interface ActorSystemOptions {
  /** The node's full name. */
  node: string;
  /** The node's incarnation; pids of another incarnation are treated as dead. */
  creation: number;
  /** Routes everything addressed to other nodes. */
  router: RemoteRouter;
  /** Messages a mailbox holds before new ones are dropped. */
  maxMailbox: number;
}

interface Monitor {
  ref: Ref;
  target: Pid | NamedTarget;
}

interface Watcher {
  ref: Ref;
  by: Pid;
  as: Pid | NamedTarget;
}

interface Proc {
  pid: Pid;
  mailbox: Mailbox;
  links: Map<string, Pid>;
  monitors: Map<string, Monitor>;
  watchers: Map<string, Watcher>;
  trap: boolean;
  alive: boolean;
  names: Set<string>;
}

/** Thrown inside an actor body by `ctx.exit` to unwind it. */
class ExitUnwind {
  constructor(readonly reason: ExitReason) {}
}

let unwindsSwallowed = false;

// ctx.exit from a callback the body does not await (a timer, a detached promise)
// has already ended the actor; its unwind must not reach Deno's handler and end the program.
function swallowStrayUnwinds(): void {
  if (unwindsSwallowed || typeof globalThis.addEventListener !== "function") return;
  unwindsSwallowed = true;
  globalThis.addEventListener("error", (e) => {
    if (e.error instanceof ExitUnwind) e.preventDefault();
  });
  globalThis.addEventListener("unhandledrejection", (e) => {
    if (e.reason instanceof ExitUnwind) e.preventDefault();
  });
}

const NAME_RE = /^[A-Za-z0-9_.:\-]{1,255}$/;

/**
 * The processes of one node: spawn, mailboxes, names, links, monitors and exit
 * signals, with Erlang's semantics. Anything for another node goes to the router.
 */
export class ActorSystem {
  readonly node: string;
  readonly creation: number;
  readonly #router: RemoteRouter;
  readonly #maxMailbox: number;
  readonly #procs = new Map<number, Proc>();
  readonly #names = new Map<string, Proc>();
  #nextId = 1;
  #nextRef = 1;

  constructor(options: ActorSystemOptions) {
    this.node = options.node;
    this.creation = options.creation;
    this.#router = options.router;
    this.#maxMailbox = options.maxMailbox;
    swallowStrayUnwinds();
  }

  /** Live processes on this node. */
  get count(): number {
    return this.#procs.size;
  }

  /** A fresh reference. */
  makeRef(): Ref {
    return new Ref(this.node, this.#nextRef++, this.creation);
  }

  #newProc(): Proc {
    const pid = new Pid(this.node, this.#nextId++, this.creation);
    const proc: Proc = {
      pid,
      mailbox: new Mailbox({ maxMessages: this.#maxMailbox, owner: String(pid) }),
      links: new Map(),
      monitors: new Map(),
      watchers: new Map(),
      trap: false,
      alive: true,
      names: new Set(),
    };
    this.#procs.set(pid.id, proc);
    return proc;
  }

  #local(pid: Pid): Proc | undefined {
    if (pid.node !== this.node || pid.creation !== this.creation) return undefined;
    const p = this.#procs.get(pid.id);
    return p?.alive ? p : undefined;
  }

  /** True when `pid` is a live process of this node. */
  isAlive(pid: Pid): boolean {
    return this.#local(pid) !== undefined;
  }

  /** Creates a process driven from outside any actor body. */
  inbox(): Inbox {
    return this.#handle(this.#newProc());
  }

  /** Starts an actor; its body runs from the next microtask. */
  spawn<A extends unknown[]>(fn: ActorFn<A>, args: A, options: { link?: Pid } = {}): Pid {
    const proc = this.#newProc();
    if (options.link) this.#linkProcs(proc, options.link);
    const ctx = this.#context(proc);
    queueMicrotask(async () => {
      // Killed before it ran (a spawn link to a dead pid, an exit, shutdown): never runs.
      if (!proc.alive) return;
      let reason: ExitReason = "normal";
      try {
        await fn(ctx, ...args);
      } catch (e) {
        reason = e instanceof ExitUnwind ? e.reason : errorReason(e);
      }
      this.#terminate(proc, reason);
    });
    return proc.pid;
  }

  #handle(proc: Proc): Inbox {
    const close = () => this.#terminate(proc, "normal");
    return {
      self: proc.pid,
      receive: <T>(options?: ReceiveOptions<T>) => proc.mailbox.receive<T>(options),
      link: (pid) => this.#linkProcs(proc, pid),
      unlink: (pid) => this.#unlink(proc, pid),
      monitor: (target) => this.#monitor(proc, target),
      demonitor: (ref) => this.#demonitor(proc, ref),
      trapExits: (on = true) => {
        proc.trap = on;
      },
      send: (to, msg) => {
        if (proc.alive) this.send(to, msg);
      },
      close,
      [Symbol.dispose]: close,
    };
  }

  #context(proc: Proc): ActorContext {
    return {
      ...this.#handle(proc),
      node: this.node,
      spawn: <A extends unknown[]>(fn: ActorFn<A>, ...args: A) => this.spawn(fn, args),
      exit: ((...a: [reason?: ExitReason] | [to: Pid, reason: ExitReason]): void => {
        if (a.length < 2) {
          const reason = a.length === 0 || a[0] === undefined ? "normal" : a[0];
          this.#terminate(proc, reason);
          throw new ExitUnwind(reason);
        }
        const [to, reason] = a;
        if (!(to instanceof Pid)) throw new TypeError(`exit(to, reason): not a pid: ${String(to)}`);
        // A process that has ended sends nothing, as with send.
        if (!proc.alive) return;
        this.exit(proc.pid, to, reason);
        // Erlang's exit(self(), Reason) does not return when the signal ends the caller.
        if (!proc.alive) throw new ExitUnwind(reason);
      }) as ActorContext["exit"],
    };
  }

  /** Sends `msg`. A local name that is not registered throws `NoProcError`. */
  send(to: Destination, msg: unknown): void {
    if (to instanceof Pid) {
      if (to.node !== this.node) return this.#router.send(to, msg);
      this.#local(to)?.mailbox.push(msg);
      return;
    }
    if (typeof to === "string") {
      const proc = this.#names.get(to);
      if (!proc) throw new NoProcError(`no process is registered as "${to}"`);
      proc.mailbox.push(msg);
      return;
    }
    if (Array.isArray(to) && typeof to[0] === "string" && typeof to[1] === "string") {
      const [name, node] = to;
      if (node === this.node) this.#names.get(name)?.mailbox.push(msg);
      else this.#router.sendNamed(name, node, msg);
      return;
    }
    throw new TypeError(`not a destination: ${String(to)}`);
  }

  /** Registers a local live pid under `name`. */
  register(name: string, pid: Pid): void {
    if (!NAME_RE.test(name)) throw new TypeError(`invalid process name "${name}"`);
    const proc = this.#local(pid);
    if (!proc) throw new NoProcError(`${pid} is not a live process of ${this.node}`);
    const holder = this.#names.get(name);
    if (holder) throw new NameTakenError(`"${name}" is already registered to ${holder.pid}`);
    this.#names.set(name, proc);
    proc.names.add(name);
  }

  /** Removes a registration; returns whether there was one. */
  unregister(name: string): boolean {
    const proc = this.#names.get(name);
    if (!proc) return false;
    this.#names.delete(name);
    proc.names.delete(name);
    return true;
  }

  /** The pid registered under `name`, if any. */
  whereis(name: string): Pid | undefined {
    return this.#names.get(name)?.pid;
  }

  /** Registered names on this node. */
  registered(): string[] {
    return [...this.#names.keys()];
  }

  /**
   * Sends an exit signal to `to` as if from `from` (Erlang's exit/2). Without
   * `from` it comes from no process, so "normal" never ends `to`; with
   * `from` equal to `to`, "normal" ends it (or is an `EXIT` message when trapping).
   */
  exit(from: Pid | undefined, to: Pid, reason: ExitReason): void {
    const sender = from ?? new Pid(this.node, 0, this.creation);
    if (to.node !== this.node) return this.#router.exit(sender, to, reason, "exit");
    if (reason === "normal" && sender.equals(to)) {
      // OTP: exit(self(), normal) ends the caller with "normal", or is an EXIT message when trapping.
      const proc = this.#local(to);
      if (proc?.trap) proc.mailbox.push({ type: "EXIT", pid: to, reason });
      else if (proc) this.#terminate(proc, reason);
      return;
    }
    this.exitSignal(sender, to, reason, "exit");
  }

  // ---- links and monitors -------------------------------------------------

  #linkProcs(proc: Proc, other: Pid): void {
    if (!proc.alive || other.equals(proc.pid)) return;
    const key = String(other);
    if (proc.links.has(key)) return;
    if (other.node !== this.node) {
      proc.links.set(key, other);
      this.#router.link(proc.pid, other);
      return;
    }
    const peer = this.#local(other);
    proc.links.set(key, other);
    // The link must exist for the "noproc" signal to count as coming from it.
    if (!peer) return this.exitSignal(other, proc.pid, "noproc", "link");
    peer.links.set(String(proc.pid), proc.pid);
  }

  #unlink(proc: Proc, other: Pid): void {
    proc.links.delete(String(other));
    if (other.node !== this.node) this.#router.unlink(proc.pid, other);
    else this.#local(other)?.links.delete(String(proc.pid));
  }

  #monitor(proc: Proc, target: MonitorTarget): Ref {
    const ref = this.makeRef();
    if (!proc.alive) return ref;
    const remote = this.#remoteTarget(target);
    if (remote) {
      proc.monitors.set(String(ref), { ref, target: remote });
      this.#router.monitor(proc.pid, remote, ref);
      return ref;
    }
    const watched = typeof target === "string"
      ? this.#names.get(target)
      : target instanceof Pid
      ? this.#local(target)
      : this.#names.get((target as NamedTarget)[0]);
    const as: Pid | NamedTarget = target instanceof Pid
      ? target
      : typeof target === "string"
      ? [target, this.node]
      : target as NamedTarget;
    if (!watched) {
      proc.mailbox.push({ type: "DOWN", ref, pid: as, reason: "noproc" });
      return ref;
    }
    proc.monitors.set(String(ref), { ref, target: watched.pid });
    watched.watchers.set(String(ref), { ref, by: proc.pid, as });
    return ref;
  }

  #remoteTarget(target: MonitorTarget): Pid | NamedTarget | undefined {
    if (target instanceof Pid) return target.node === this.node ? undefined : target;
    if (typeof target === "string") return undefined;
    return target[1] === this.node ? undefined : [target[0], target[1]];
  }

  #demonitor(proc: Proc, ref: Ref): void {
    const key = String(ref);
    const m = proc.monitors.get(key);
    if (m) {
      proc.monitors.delete(key);
      const node = m.target instanceof Pid ? m.target.node : m.target[1];
      if (node !== this.node) this.#router.demonitor(proc.pid, m.target, ref);
      else if (m.target instanceof Pid) this.#local(m.target)?.watchers.delete(key);
    }
    // A DOWN already queued for this ref is dropped too (Erlang's demonitor with flush).
    proc.mailbox.discard((msg) => isDownFor(msg, ref));
  }

  // ---- signals from the network (or from local processes) -----------------

  /** Delivers a message that arrived for a local pid; stale pids are dropped. */
  deliver(to: Pid, msg: unknown): void {
    this.#local(to)?.mailbox.push(msg);
  }

  /** Delivers a message that arrived for a local name; unknown names are dropped. */
  deliverNamed(name: string, msg: unknown): void {
    this.#names.get(name)?.mailbox.push(msg);
  }

  /** A remote process linked to a local one. */
  remoteLink(from: Pid, to: Pid): void {
    const proc = this.#local(to);
    if (!proc) return this.#router.exit(to, from, "noproc", "link");
    proc.links.set(String(from), from);
  }

  /** A remote process unlinked from a local one. */
  remoteUnlink(from: Pid, to: Pid): void {
    this.#local(to)?.links.delete(String(from));
  }

  /** A remote process started monitoring a local pid or name. */
  remoteMonitor(from: Pid, to: Pid | NamedTarget, ref: Ref): void {
    const proc = to instanceof Pid ? this.#local(to) : this.#names.get(to[0]);
    if (!proc) return this.#router.down(to, from, ref, "noproc");
    proc.watchers.set(String(ref), { ref, by: from, as: to });
  }

  /** A remote process stopped monitoring. */
  remoteDemonitor(_from: Pid, to: Pid | NamedTarget, ref: Ref): void {
    const proc = to instanceof Pid ? this.#local(to) : this.#names.get(to[0]);
    proc?.watchers.delete(String(ref));
  }

  /** Something a local process monitored on another node ended. */
  remoteDown(from: Pid | NamedTarget, to: Pid, ref: Ref, reason: ExitReason): void {
    const proc = this.#local(to);
    if (!proc || !proc.monitors.delete(String(ref))) return;
    proc.mailbox.push({ type: "DOWN", ref, pid: from, reason });
  }

  /** An exit signal for a local process, from a link or from `exit`. */
  exitSignal(from: Pid, to: Pid, reason: ExitReason, kind: ExitKind): void {
    const proc = this.#local(to);
    if (!proc) return;
    if (kind === "link") {
      if (!proc.links.delete(String(from))) return;
    } else if (reason === "kill") {
      return this.#terminate(proc, "killed");
    }
    this.#exitFrom(proc, from, reason);
  }

  // A trappable exit signal reaching `proc`: a message when trapping, else the end unless "normal".
  #exitFrom(proc: Proc, from: Pid, reason: ExitReason): void {
    if (!proc.alive) return;
    if (proc.trap) {
      proc.mailbox.push({ type: "EXIT", pid: from, reason });
    } else if (reason !== "normal") {
      this.#terminate(proc, reason);
    }
  }

  /** The connection to `node` is gone: links and monitors across it fire with "noconnection". */
  nodeDown(node: string): void {
    // Forget everything tied to that node first, so that processes ended by the
    // signals below do not address the lost node (which would dial it again).
    const downs: [Proc, Monitor][] = [];
    const exits: [Proc, Pid][] = [];
    for (const proc of this.#procs.values()) {
      for (const [key, m] of proc.monitors) {
        if ((m.target instanceof Pid ? m.target.node : m.target[1]) !== node) continue;
        proc.monitors.delete(key);
        downs.push([proc, m]);
      }
      for (const [key, w] of proc.watchers) if (w.by.node === node) proc.watchers.delete(key);
      for (const [key, pid] of proc.links) {
        if (pid.node !== node) continue;
        proc.links.delete(key);
        exits.push([proc, pid]);
      }
    }
    for (const [proc, m] of downs) {
      proc.mailbox.push({ type: "DOWN", ref: m.ref, pid: m.target, reason: "noconnection" });
    }
    for (const [proc, pid] of exits) this.#exitFrom(proc, pid, "noconnection");
  }

  /** Ends every process with `reason`. */
  shutdown(reason: ExitReason = "killed"): void {
    for (const proc of [...this.#procs.values()]) this.#terminate(proc, reason);
  }

  #terminate(proc: Proc, reason: ExitReason): void {
    if (!proc.alive) return;
    proc.alive = false;
    this.#procs.delete(proc.pid.id);
    for (const name of proc.names) this.#names.delete(name);
    proc.mailbox.close(new NoProcError(`${proc.pid} has exited`));
    const signal = reason === "kill" ? "killed" : reason;
    for (const pid of proc.links.values()) {
      if (pid.node === this.node) this.exitSignal(proc.pid, pid, signal, "link");
      else this.#router.exit(proc.pid, pid, signal, "link");
    }
    for (const w of proc.watchers.values()) {
      if (w.by.node === this.node) {
        const watcher = this.#local(w.by);
        if (watcher?.monitors.delete(String(w.ref))) {
          watcher.mailbox.push({ type: "DOWN", ref: w.ref, pid: w.as, reason: signal });
        }
      } else this.#router.down(w.as, w.by, w.ref, signal);
    }
    for (const m of proc.monitors.values()) {
      if (m.target instanceof Pid && m.target.node === this.node) {
        this.#local(m.target)?.watchers.delete(String(m.ref));
      } else {
        const node = m.target instanceof Pid ? m.target.node : m.target[1];
        if (node !== this.node) this.#router.demonitor(proc.pid, m.target, m.ref);
      }
    }
  }
}

function isDownFor(msg: unknown, ref: Ref): boolean {
  if (typeof msg !== "object" || msg === null) return false;
  const m = msg as { type?: unknown; ref?: unknown };
  return m.type === "DOWN" && ref.equals(m.ref);
}

/** The exit reason for a thrown value: a plain object, safe to send. */
export function errorReason(e: unknown): ExitReason {
  if (e instanceof Error) {
    return { error: { name: e.name, message: e.message, stack: e.stack ?? "" } };
  }
  return { error: { name: "Error", message: String(e), stack: "" } };
}
