import { errorReason } from "../actor/actor_system.ts";
import type { ActorContext, DownMessage, ExitMessage, ExitReason } from "../actor/types.ts";
import { FusionError, NodeDownError, NoProcError, TimeoutError } from "../errors.ts";
import type { Node } from "../node.ts";
import { NodeManager } from "../remote/node_manager.ts";
import type { RemoteNode } from "../remote/remote_node.ts";
import { Pid } from "../wire/pid.ts";
import type { Ref } from "../wire/ref.ts";
import { type Child, childInfo, localBody, makeChild } from "./_child.ts";
import { NodeEndpoint } from "./_node_endpoint.ts";
import { RestartIntensity } from "./_restart_intensity.ts";
import type {
  ChildInfo,
  ChildSpec,
  ReconnectOptions,
  RemoteChildSpec,
  Strategy,
  SuperviseOptions,
  SupervisorEvent,
  SupervisorExit,
} from "./types.ts";

// How long a killed child gets to report its end before the supervisor stops waiting.
const KILL_WAIT_MS = 5000;

/** The resolved settings of a supervisor. */
export interface CoreSettings {
  node: Node;
  strategy: Strategy;
  intensity: number;
  periodMs: number;
  reconnect: Required<ReconnectOptions>;
  connection: SuperviseOptions["connection"];
  onEvent: SuperviseOptions["onEvent"];
}

type CommandOp =
  | { op: "terminate" }
  | { op: "start_child"; spec: ChildSpec }
  | { op: "terminate_child"; id: string }
  | { op: "restart_child"; id: string }
  | { op: "delete_child"; id: string };

// Only the handle makes these, and only local sends carry objects as they are:
// no other process can forge one.
class Command {
  constructor(
    readonly cmd: CommandOp,
    readonly resolve: (v: unknown) => void,
    readonly reject: (e: unknown) => void,
  ) {}
}

// "Look at the children waiting to start": a node came back, or a start is to be retried.
class Wake {}

type StartResult = { state: "started" } | { state: "waiting" } | { state: "failed"; error: Error };

/**
 * The supervisor's state and its actor body: starts children in order, turns
 * their exits into restarts by strategy and restart type within the restart
 * intensity, reconnects to lost remote nodes, and shuts children down.
 */
export class SupervisorCore {
  readonly #s: CoreSettings;
  readonly #children: Child[] = [];
  readonly #endpoints = new Map<NodeManager | string, NodeEndpoint>();
  readonly #intensity: RestartIntensity;
  readonly #pendingCommands = new Set<Command>();
  // Nodes where a linked spawn's answer was lost: its actor may be linked to us unknown.
  readonly #lostSpawns = new Set<string>();
  readonly #ready = Promise.withResolvers<void>();
  readonly #done = Promise.withResolvers<SupervisorExit>();
  #ctx: ActorContext | undefined;
  #exit: SupervisorExit | undefined;
  #finished = false;
  // A Wake is in the mailbox: one pass over the waiting children serves every reason for it.
  #woken = false;

  constructor(specs: readonly ChildSpec[], settings: CoreSettings) {
    this.#s = settings;
    this.#intensity = new RestartIntensity(settings.intensity, settings.periodMs);
    for (const spec of specs) this.#add(makeChild(spec));
    this.#done.promise.catch(() => {});
    this.#ready.promise.catch(() => {});
  }

  /** Settles once every child has started (or one failed to). */
  get ready(): Promise<void> {
    return this.#ready.promise;
  }

  /** Settles when the supervisor has ended. */
  get done(): Promise<SupervisorExit> {
    return this.#done.promise;
  }

  /** Whether the supervisor has ended. */
  get finished(): boolean {
    return this.#finished;
  }

  /** A snapshot of the children, in start order. */
  children(): ChildInfo[] {
    return this.#children.map(childInfo);
  }

  /** Hands a command to the supervisor's actor; settles with its outcome. */
  command(pid: Pid, cmd: CommandOp): Promise<unknown> {
    if (this.#finished) return Promise.reject(new NoProcError(`supervisor ${pid} has ended`));
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const c = new Command(cmd, resolve, reject);
    this.#pendingCommands.add(c);
    this.#s.node.send(pid, c);
    return promise;
  }

  #emit(event: SupervisorEvent): void {
    try {
      this.#s.onEvent?.(event);
    } catch {
      // A faulty listener never takes the supervisor down.
    }
  }

  #add(child: Child): void {
    if (this.#children.some((c) => c.id === child.id)) {
      throw new TypeError(`two children have the id "${child.id}"`);
    }
    if (child.endpointKey !== undefined) this.#endpoint(child);
    this.#children.push(child);
  }

  #endpoint(child: Child): NodeEndpoint {
    const key = child.endpointKey!;
    let ep = this.#endpoints.get(key);
    if (!ep) {
      const target = child.target!;
      const manager = target instanceof NodeManager
        ? target
        : new NodeManager(target, { ...this.#s.connection, node: this.#s.node });
      ep = new NodeEndpoint(
        manager,
        !(key instanceof NodeManager),
        this.#s.node,
        this.#s.reconnect,
        {
          up: (remote) => {
            this.#emit({ type: "node_connected", target: ep!.label, node: remote.name });
            this.#wake();
          },
          failed: (error, attempt, retryInMs) =>
            this.#emit({ type: "node_unreachable", target: ep!.label, attempt, error, retryInMs }),
        },
      );
      this.#endpoints.set(key, ep);
    }
    return ep;
  }

  /** The supervisor's actor ended; when its body never ran, this ends the supervisor. */
  neverRan(reason: unknown): void {
    if (this.#ctx) return;
    const error = new NoProcError(
      `the supervisor was stopped before it started (${String(reason)})`,
    );
    this.#ready.reject(error);
    this.#finish({ reason, cause: "killed" });
  }

  // ---- the actor ------------------------------------------------------------

  /** The supervisor's actor body. */
  async run(ctx: ActorContext): Promise<void> {
    this.#ctx = ctx;
    ctx.trapExits(true);
    try {
      await this.#init();
    } catch (e) {
      await this.#shutdownAll().catch(() => {});
      await this.#stopEndpoints();
      this.#ready.reject(e);
      this.#finish({ reason: "shutdown", cause: "start_failed" });
      ctx.exit("shutdown");
    }
    this.#ready.resolve();
    let exit: SupervisorExit;
    try {
      exit = await this.#loop(ctx);
    } catch (e) {
      const alive = this.#s.node.actors.isAlive(ctx.self);
      if (!alive) {
        // Links took the children with it; these started after the links broke.
        for (const c of this.#children) {
          if (c.pid) this.#s.node.actors.exit(ctx.self, c.pid, "kill");
        }
      }
      await this.#stopEndpoints();
      this.#finish({ reason: alive ? errorReason(e) : "killed", cause: "killed" });
      throw e;
    }
    await this.#stopEndpoints();
    this.#finish(exit);
    ctx.exit(exit.reason);
  }

  async #loop(ctx: ActorContext): Promise<SupervisorExit> {
    for (;;) {
      const msg = await ctx.receive();
      const exit = await this.#handle(msg);
      if (exit) return exit;
    }
  }

  #finish(exit: SupervisorExit): void {
    if (this.#finished) return;
    this.#finished = true;
    for (const c of this.#pendingCommands) {
      c.reject(new NoProcError(`the supervisor ended (${exit.cause})`));
    }
    this.#pendingCommands.clear();
    this.#emit({ type: "stopped", exit });
    this.#done.resolve(exit);
  }

  async #init(): Promise<void> {
    // Nodes are reached in parallel, children started in order.
    await Promise.all([...this.#endpoints.values()].map((ep) => ep.connect()));
    for (const c of this.#children) {
      const r = await this.#tryStart(c);
      if (r.state === "failed") throw r.error;
      if (r.state === "waiting") {
        throw new NodeDownError(String(c.node ?? c.id), `child "${c.id}": its node went down`);
      }
    }
  }

  async #handle(msg: unknown): Promise<SupervisorExit | undefined> {
    if (msg instanceof Command) {
      this.#pendingCommands.delete(msg);
      try {
        msg.resolve(await this.#command(msg.cmd));
      } catch (e) {
        msg.reject(e);
      }
      return this.#exit;
    }
    if (msg instanceof Wake) {
      this.#woken = false;
      await this.#startPending();
      return this.#exit;
    }
    if (isExit(msg)) {
      const child = this.#children.find((c) => c.pid?.equals(msg.pid));
      if (child) {
        await this.#childExited(child, msg.reason);
        return this.#exit;
      }
      if (msg.reason === "normal") return undefined;
      // An actor whose spawn answer was lost (a timeout, its node went down): not a child.
      if (this.#lostSpawns.has(msg.pid.node)) return undefined;
      // An exit signal from elsewhere (a linked parent, exit()): stop, as OTP does.
      await this.#shutdownAll();
      return { reason: msg.reason, cause: "exit_signal" };
    }
    return undefined; // a late DOWN from a shutdown that timed out
  }

  // ---- exits and restarts -----------------------------------------------------

  async #childExited(c: Child, reason: ExitReason): Promise<void> {
    const pid = c.pid!;
    const lostNode = c.node;
    c.pid = undefined;
    c.node = undefined;
    const restarting = shouldRestart(c.restart, reason);
    this.#emit({ type: "child_exited", id: c.id, pid, reason, restarting });
    if (!restarting) {
      if (c.restart === "temporary") this.#remove(c);
      else c.status = "stopped";
      return;
    }
    // One lost connection counts once, however many children it carried.
    if (!this.#intensity.add(reason === "noconnection" ? lostNode : undefined)) {
      return await this.#giveUp(c, reason);
    }
    const i = this.#children.indexOf(c);
    const group = this.#s.strategy === "one_for_all"
      ? this.#children.filter((o) => o !== c)
      : this.#s.strategy === "rest_for_one"
      ? this.#children.slice(i + 1)
      : [];
    for (const o of [...group].reverse()) await this.#shutdownChild(o);
    for (const o of group) {
      if (o.restart === "temporary") this.#remove(o);
      else o.status = "restarting";
    }
    c.status = "restarting";
    await this.#startPending();
  }

  async #giveUp(c: Child, reason: ExitReason): Promise<void> {
    this.#emit({ type: "gave_up", id: c.id, reason });
    await this.#shutdownAll();
    this.#exit = { reason: "shutdown", cause: "reached_max_restart_intensity" };
  }

  // Starts the children due to (re)start, in order. Under one_for_all and
  // rest_for_one a child that cannot start yet holds back those after it.
  async #startPending(): Promise<void> {
    const ordered = this.#s.strategy !== "one_for_one";
    for (const c of [...this.#children]) {
      if (this.#exit) return;
      if (c.status !== "restarting" && c.status !== "waiting_for_node") continue;
      if (!this.#children.includes(c)) continue;
      const r = await this.#tryStart(c);
      if (r.state === "started") continue;
      if (r.state === "failed") {
        // OTP: a failed restart is retried, and each attempt counts.
        if (!this.#intensity.add()) return await this.#giveUp(c, errorReason(r.error));
        this.#wake();
      }
      if (ordered) return;
    }
  }

  #wake(): void {
    if (this.#woken || !this.#ctx) return;
    this.#woken = true;
    this.#ctx.send(this.#ctx.self, new Wake());
  }

  async #tryStart(c: Child): Promise<StartResult> {
    const ctx = this.#ctx!;
    if (c.kind === "local") {
      const node = c.localNode ?? this.#s.node;
      const { fn, args } = localBody(c);
      let pid: Pid;
      try {
        // Spawned linked: its exit is seen however early it comes.
        pid = node.actors.spawn(fn, args, { link: ctx.self });
      } catch (e) {
        return this.#startFailed(c, e);
      }
      this.#running(c, pid, node.name);
      return { state: "started" };
    }
    const ep = this.#endpoint(c);
    const remote = await ep.current().catch(() => undefined);
    if (!remote) return this.#waiting(c, ep);
    const spec = c.spec as RemoteChildSpec;
    let pid: Pid;
    try {
      // Linked by the remote node before the body runs: even an instant crash
      // reaches us as EXIT with its own reason (never "noproc", never missed).
      pid = await remote.spawn(spec.module, spec.fn, [...(spec.args ?? [])], {
        timeoutMs: c.startTimeoutMs,
        link: ctx.self,
      });
    } catch (e) {
      const down = e instanceof NodeDownError || !this.#s.node.nodes().includes(remote.name);
      if (down || e instanceof TimeoutError) this.#lostSpawns.add(remote.name);
      if (down) return this.#waiting(c, ep);
      return this.#startFailed(c, e);
    }
    if (!this.#s.node.actors.isAlive(ctx.self)) {
      this.#s.node.actors.exit(ctx.self, pid, "kill");
      return this.#startFailed(c, new NoProcError("the supervisor ended while starting it"));
    }
    this.#running(c, pid, remote.name);
    return { state: "started" };
  }

  #running(c: Child, pid: Pid, node: string): void {
    c.pid = pid;
    c.node = node;
    c.status = "running";
    if (c.started) c.restarts++;
    this.#emit({ type: "child_started", id: c.id, pid, node, restart: c.started });
    c.started = true;
  }

  #waiting(c: Child, ep: NodeEndpoint): StartResult {
    c.status = "waiting_for_node";
    this.#emit({ type: "child_waiting", id: c.id, target: ep.label });
    ep.reconnect();
    return { state: "waiting" };
  }

  #startFailed(c: Child, e: unknown): StartResult {
    const error = e instanceof Error ? e : new Error(String(e));
    c.status = "restarting";
    this.#emit({ type: "child_start_failed", id: c.id, error });
    return { state: "failed", error };
  }

  #remove(c: Child): void {
    const i = this.#children.indexOf(c);
    if (i >= 0) this.#children.splice(i, 1);
  }

  // ---- shutting children down -------------------------------------------------

  // OTP's shutdown: monitor, unlink, "shutdown", then "kill" after shutdownMs.
  async #shutdownChild(c: Child): Promise<void> {
    const pid = c.pid;
    c.pid = undefined;
    c.node = undefined;
    if (!pid) return;
    const ctx = this.#ctx!;
    const actors = this.#s.node.actors;
    if (c.kind === "remote" && !this.#s.node.nodes().includes(pid.node)) {
      // Its node is gone: the link fired already; addressing it would only dial it again.
      await this.#drainExit(pid);
      return;
    }
    const ref = ctx.monitor(pid);
    ctx.unlink(pid);
    await this.#drainExit(pid);
    actors.exit(ctx.self, pid, c.shutdownMs === 0 ? "kill" : "shutdown");
    if (await this.#awaitDown(ref, c.shutdownMs === 0 ? KILL_WAIT_MS : c.shutdownMs)) return;
    actors.exit(ctx.self, pid, "kill");
    if (await this.#awaitDown(ref, KILL_WAIT_MS)) return;
    ctx.demonitor(ref);
  }

  async #shutdownAll(): Promise<void> {
    for (const c of [...this.#children].reverse()) {
      await this.#shutdownChild(c);
      if (c.status !== "stopped") c.status = "stopped";
    }
  }

  async #drainExit(pid: Pid): Promise<void> {
    await this.#ctx!.receive({
      match: (m) => isExit(m) && m.pid.equals(pid),
      timeoutMs: 0,
    }).catch(() => {});
  }

  async #awaitDown(ref: Ref, timeoutMs: number): Promise<DownMessage | undefined> {
    try {
      return await this.#ctx!.receive<DownMessage>({
        match: (m) => isDown(m) && ref.equals(m.ref),
        ...(Number.isFinite(timeoutMs) ? { timeoutMs } : {}),
      });
    } catch (e) {
      if (e instanceof TimeoutError) return undefined;
      throw e;
    }
  }

  async #stopEndpoints(): Promise<void> {
    await Promise.all([...this.#endpoints.values()].map((ep) => ep.stop()));
  }

  // ---- commands ---------------------------------------------------------------

  async #command(cmd: CommandOp): Promise<unknown> {
    switch (cmd.op) {
      case "terminate":
        await this.#shutdownAll();
        this.#exit = { reason: "shutdown", cause: "terminated" };
        return undefined;
      case "start_child":
        return await this.#startChild(cmd.spec);
      case "terminate_child": {
        const c = this.#find(cmd.id);
        await this.#shutdownChild(c);
        if (c.restart === "temporary") this.#remove(c);
        else c.status = "stopped";
        return undefined;
      }
      case "restart_child": {
        const c = this.#find(cmd.id);
        if (c.status !== "stopped") {
          throw new FusionError(`child "${c.id}" is ${c.status}; terminate it first`);
        }
        c.status = "restarting";
        const r = await this.#tryStart(c);
        if (r.state === "failed") {
          c.status = "stopped";
          throw r.error;
        }
        return c.pid;
      }
      case "delete_child": {
        const c = this.#find(cmd.id);
        if (c.status !== "stopped") {
          throw new FusionError(`child "${c.id}" is ${c.status}; terminate it first`);
        }
        this.#remove(c);
        return undefined;
      }
    }
  }

  async #startChild(spec: ChildSpec): Promise<Pid> {
    const c = makeChild(spec);
    this.#add(c);
    try {
      let remote: RemoteNode | undefined;
      if (c.kind === "remote") remote = await this.#endpoint(c).connect();
      const r = await this.#tryStart(c);
      if (r.state === "failed") throw r.error;
      if (r.state === "waiting") {
        throw new NodeDownError(remote?.name ?? c.id, `child "${c.id}": its node went down`);
      }
      return c.pid!;
    } catch (e) {
      this.#remove(c);
      throw e;
    }
  }

  #find(id: string): Child {
    const c = this.#children.find((c) => c.id === id);
    if (!c) throw new NoProcError(`the supervisor has no child "${id}"`);
    return c;
  }
}

/** Whether a child that ended with `reason` is restarted. */
export function shouldRestart(restart: Child["restart"], reason: ExitReason): boolean {
  if (restart === "permanent") return true;
  if (restart === "temporary") return false;
  return !isCleanExit(reason);
}

// "normal", "shutdown" and { shutdown: … } end a transient child for good.
function isCleanExit(reason: ExitReason): boolean {
  if (reason === "normal" || reason === "shutdown") return true;
  return typeof reason === "object" && reason !== null && !Array.isArray(reason) &&
    "shutdown" in reason && Object.keys(reason).length === 1;
}

function isExit(m: unknown): m is ExitMessage {
  return typeof m === "object" && m !== null && (m as ExitMessage).type === "EXIT" &&
    (m as ExitMessage).pid instanceof Pid;
}

function isDown(m: unknown): m is DownMessage {
  return typeof m === "object" && m !== null && (m as DownMessage).type === "DOWN";
}
