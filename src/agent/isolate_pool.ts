import { TimeoutError } from "../errors.ts";
import { DEFAULT_LIMITS } from "../limits.ts";
import {
  type IsolateSpec,
  type NormalizedPermissions,
  permissionsKey,
} from "./isolate_permissions.ts";
import { IsolateProcess, type IsolateRequest } from "./isolate_process.ts";

/** Options for {@linkcode IsolatePool}. */
export interface IsolatePoolOptions {
  /** Sandbox processes alive at once; calls beyond wait. Default `DEFAULT_LIMITS.maxIsolates`. */
  maxProcesses?: number;
  /** An idle sandbox is stopped after this long; default 60 000 ms. */
  idleMs?: number;
  /** The Deno to run sandboxes with (default: the running one). */
  execPath?: string;
}

/** What the pool holds right now. */
export interface IsolatePoolStats {
  /** Live sandbox processes (busy and idle). */
  processes: number;
  /** Sandboxes waiting for a call. */
  idle: number;
  /** Calls waiting for a free sandbox. */
  queued: number;
  /** Sandboxes started since the pool was made. */
  started: number;
}

type Timer = ReturnType<typeof setTimeout>;

interface Slot {
  proc: IsolateProcess;
  key: string;
  retired: boolean;
  lastUsed: number;
  idleTimer?: Timer;
}

interface Waiter {
  key: string;
  modulePath: string | undefined;
  permissions: NormalizedPermissions;
  resolve: (slot: Slot) => void;
  reject: (e: unknown) => void;
  timer: Timer;
}

/**
 * Sandbox processes pooled by (module, permissions). A sandbox serves one call
 * at a time, so a call that overruns its timeout is stopped by killing its
 * process without touching any other call; a later call starts a fresh one.
 */
export class IsolatePool {
  readonly #max: number;
  readonly #idleMs: number;
  readonly #execPath: string | undefined;
  readonly #idle = new Map<string, Slot[]>();
  readonly #all = new Set<Slot>();
  readonly #queue: Waiter[] = [];
  #live = 0;
  #started = 0;

  constructor(options: IsolatePoolOptions = {}) {
    this.#max = Math.max(1, options.maxProcesses ?? DEFAULT_LIMITS.maxIsolates);
    this.#idleMs = options.idleMs ?? 60_000;
    this.#execPath = options.execPath;
  }

  /**
   * Runs `request` in a sandbox for `modulePath` (or for functions shipped by
   * source) with `spec.permissions`. Rejects with TimeoutError after
   * `spec.timeoutMs`, counted from now, having killed the sandbox.
   */
  async run(
    modulePath: string | undefined,
    request: IsolateRequest,
    spec: IsolateSpec,
  ): Promise<unknown> {
    const t0 = performance.now();
    const key = `${modulePath ?? ""}\n${permissionsKey(spec.permissions)}`;
    const slot = this.#takeIdle(key) ??
      await this.#wait(key, modulePath, spec.permissions, spec.timeoutMs);
    let timer: Timer | undefined;
    try {
      return await new Promise((resolve, reject) => {
        timer = setTimeout(() => {
          slot.proc.kill(
            new TimeoutError(
              `the isolated call took over ${spec.timeoutMs} ms; its sandbox process was killed`,
            ),
          );
        }, Math.max(0, spec.timeoutMs - (performance.now() - t0)));
        slot.proc.call(request).then(resolve, reject);
      });
    } finally {
      clearTimeout(timer);
      this.#release(slot);
    }
  }

  /** Counts, for tests and benchmarks. */
  stats(): IsolatePoolStats {
    let idle = 0;
    for (const list of this.#idle.values()) idle += list.length;
    return { processes: this.#live, idle, queued: this.#queue.length, started: this.#started };
  }

  /** Kills every sandbox and fails every waiting call. */
  close(): void {
    for (const w of this.#queue.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error("the sandbox pool was closed"));
    }
    for (const slot of this.#all) this.#retire(slot, true);
  }

  #wait(
    key: string,
    modulePath: string | undefined,
    permissions: NormalizedPermissions,
    timeoutMs: number,
  ): Promise<Slot> {
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        key,
        modulePath,
        permissions,
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.#queue.indexOf(w);
          if (i >= 0) this.#queue.splice(i, 1);
          reject(
            new TimeoutError(
              `the isolated call waited over ${timeoutMs} ms for a free sandbox ` +
                `(at most ${this.#max} run at once)`,
            ),
          );
        }, timeoutMs),
      };
      this.#queue.push(w);
      this.#pump();
    });
  }

  // Serves waiting calls in order: an idle sandbox of theirs, else a new one
  // when under the limit, else room made by stopping the longest-idle sandbox.
  #pump(): void {
    while (this.#queue.length) {
      const w = this.#queue[0]!;
      let slot = this.#takeIdle(w.key);
      if (!slot && this.#live < this.#max) {
        try {
          slot = this.#spawn(w.key, w.modulePath, w.permissions);
        } catch (e) {
          this.#queue.shift();
          clearTimeout(w.timer);
          w.reject(e);
          continue;
        }
      }
      if (!slot) {
        const victim = this.#oldestIdle();
        if (!victim) return;
        this.#retire(victim, true);
        continue;
      }
      this.#queue.shift();
      clearTimeout(w.timer);
      w.resolve(slot);
    }
  }

  #spawn(key: string, modulePath: string | undefined, permissions: NormalizedPermissions): Slot {
    const proc = new IsolateProcess({
      permissions,
      ...(modulePath === undefined ? {} : { modulePath }),
      ...(this.#execPath === undefined ? {} : { execPath: this.#execPath }),
    });
    const slot: Slot = { proc, key, retired: false, lastUsed: performance.now() };
    this.#live++;
    this.#started++;
    this.#all.add(slot);
    proc.exited.then(() => {
      this.#retire(slot, false);
      this.#pump();
    });
    return slot;
  }

  #takeIdle(key: string): Slot | undefined {
    const list = this.#idle.get(key);
    const slot = list?.pop();
    if (!slot) return undefined;
    if (list!.length === 0) this.#idle.delete(key);
    clearTimeout(slot.idleTimer);
    return slot;
  }

  #release(slot: Slot): void {
    if (slot.retired || !slot.proc.alive) {
      this.#retire(slot, true);
      this.#pump();
      return;
    }
    slot.lastUsed = performance.now();
    const list = this.#idle.get(slot.key) ?? [];
    list.push(slot);
    this.#idle.set(slot.key, list);
    const timer = setTimeout(() => this.#retire(slot, true), this.#idleMs);
    Deno.unrefTimer(timer);
    slot.idleTimer = timer;
    this.#pump();
  }

  #oldestIdle(): Slot | undefined {
    let oldest: Slot | undefined;
    for (const list of this.#idle.values()) {
      if (list[0] && (!oldest || list[0].lastUsed < oldest.lastUsed)) oldest = list[0];
    }
    return oldest;
  }

  #retire(slot: Slot, kill: boolean): void {
    const list = this.#idle.get(slot.key);
    const i = list?.indexOf(slot) ?? -1;
    if (i >= 0) {
      list!.splice(i, 1);
      if (list!.length === 0) this.#idle.delete(slot.key);
    }
    clearTimeout(slot.idleTimer);
    if (kill && slot.proc.alive) slot.proc.kill();
    if (slot.retired) return;
    slot.retired = true;
    this.#live--;
    this.#all.delete(slot);
  }
}
