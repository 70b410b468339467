import {
  ISOLATED_SPAWN,
  type IsolatePermissions,
  type IsolateSpec,
  normalizePermissions,
} from "../agent/isolate_permissions.ts";
import { type Bundle, bundleModule } from "../code/mod.ts";
import { RemoteError, TimeoutError } from "../errors.ts";
import type { Node } from "../node.ts";
import { Pid } from "../wire/pid.ts";

/**
 * A module to push: a URL, or a string (a URL, or a path relative to the working directory).
 *
 * @example
 * ```ts ignore
 * import { run } from "./mod.ts";
 * await run(remote, new URL("./jobs.ts", import.meta.url), "nightly"); // next to this module
 * await run(remote, "./jobs.ts", "nightly"); // relative to the working directory
 * ```
 */
export type ModuleRef = string | URL;

/**
 * What a push did.
 *
 * @example
 * ```ts ignore
 * import { pushModule } from "./mod.ts";
 * const { hash, bytes, modules } = await pushModule(remote, "./worker.ts");
 * console.log(`${modules.length} modules, ${bytes} bytes sent, ${hash.slice(0, 12)}`);
 * ```
 */
export interface PushResult {
  /** Hex sha256 of the bundle. */
  hash: string;
  /** Code bytes sent now: 0 when the remote already held the bundle. */
  bytes: number;
  /** The source modules inside the bundle. */
  modules: string[];
}

export type { IsolatePermissions, PermissionValue } from "../agent/isolate_permissions.ts";

/**
 * Options for run, runFun and spawn.
 *
 * @example
 * ```ts ignore
 * import { run } from "./mod.ts";
 * // At most 5 s, in a sandbox that may only read /var/log.
 * const options: RunOptions = { timeoutMs: 5000, permissions: { read: ["/var/log"] } };
 * const lines = await run(remote, "./logs.ts", "tail", [100], options);
 * ```
 */
export interface RunOptions {
  /**
   * The call is abandoned after this long (TimeoutError); default 30 000 ms.
   * An isolated call is also stopped then: its sandbox process is killed.
   */
  timeoutMs?: number;
  /**
   * Runs the call in a sandbox: a Deno process of its own on the server with
   * only `permissions`, killed when it overruns `timeoutMs`. Implied by
   * `permissions`. Not for spawn. See docs/ISOLATION.md.
   */
  isolate?: boolean;
  /** What an isolated call may do; every kind not given is denied. */
  permissions?: IsolatePermissions;
}

/**
 * Options for spawn: those of run, plus a link made as part of the spawn.
 *
 * @example
 * ```ts ignore
 * import { spawn } from "./mod.ts";
 * using inbox = node.inbox();
 * inbox.trapExits();
 * // Linked before its body runs: even an instant crash arrives as EXIT with its real reason.
 * const pid = await spawn(remote, "./worker.ts", "loop", [], { link: inbox.self });
 * ```
 */
export interface SpawnOptions extends RunOptions {
  /**
   * A process of the calling node to link the new actor to. The remote node
   * makes the link before the body runs (OTP's spawn_link / spawn_request with
   * link), so no exit of the actor is missed or reported as "noproc"; when that
   * process has already ended, the actor gets a "noproc" exit signal at once.
   */
  link?: Pid;
}

/** Default time a run may take, like the original's. */
export const DEFAULT_RUN_TIMEOUT_MS = 30_000;

/** Extra time the hub waits for an isolated call, so the server's own timeout answers first. */
const ISOLATE_GRACE_MS = 1000;

// The isolate part of a request, or undefined for an in-agent call.
function isolateSpec(options: RunOptions, timeoutMs: number): IsolateSpec | undefined {
  if (options.isolate === false && options.permissions !== undefined) {
    throw new TypeError("permissions apply to isolated calls only; drop isolate: false");
  }
  if (!options.isolate && options.permissions === undefined) return undefined;
  return { permissions: normalizePermissions(options.permissions ?? {}), timeoutMs };
}

/**
 * Pushes bundles to one remote node and calls into them. It remembers which
 * hashes the remote holds, so a warm run is one round trip.
 */
export class CodeClient {
  readonly #hub: Node;
  readonly #name: string;
  readonly #known = new Set<string>();

  constructor(hub: Node, name: string) {
    this.#hub = hub;
    this.#name = name;
  }

  #request(kind: string, payload: unknown, timeoutMs?: number): Promise<unknown> {
    return this.#hub.request(
      this.#name,
      kind,
      payload,
      timeoutMs === undefined ? {} : { timeoutMs },
    );
  }

  // An isolated call, on a service of its own so that an agent without it
  // refuses rather than runs unsandboxed. The server kills the sandbox at
  // timeoutMs and says so; that becomes the TimeoutError an in-agent call gets.
  async #isolated(
    kind: "run" | "runFun",
    payload: { isolate: IsolateSpec; [k: string]: unknown },
  ): Promise<unknown> {
    try {
      const timeoutMs = payload.isolate.timeoutMs + ISOLATE_GRACE_MS;
      return await this.#request(`${kind}.isolated`, payload, timeoutMs);
    } catch (e) {
      if (e instanceof RemoteError && e.remoteName === "TimeoutError") {
        throw new TimeoutError(e.message.replace(/^TimeoutError: /, ""), { cause: e });
      }
      throw e;
    }
  }

  /** Pushes one module (and everything it imports) unless the remote has it. */
  async push(module: ModuleRef): Promise<PushResult> {
    return (await this.pushMany([module]))[0]!;
  }

  /** Pushes several modules, asking the remote once which it lacks. */
  async pushMany(modules: readonly ModuleRef[]): Promise<PushResult[]> {
    const bundles = await Promise.all(modules.map((m) => bundleModule(m)));
    const unknown = bundles.filter((b) => !this.#known.has(b.hash)).map((b) => b.hash);
    const missing = new Set(
      unknown.length
        ? (await this.#request("code.missing", { hashes: [...new Set(unknown)] })) as string[]
        : [],
    );
    const sent = new Set<string>();
    const results: PushResult[] = [];
    for (const b of bundles) {
      let bytes = 0;
      if (missing.has(b.hash) && !sent.has(b.hash)) {
        await this.#request("code.store", { hash: b.hash, code: b.code });
        sent.add(b.hash);
        bytes = b.code.length;
      }
      this.#known.add(b.hash);
      results.push({ hash: b.hash, bytes, modules: b.modules });
    }
    return results;
  }

  async #ensure(module: ModuleRef): Promise<Bundle> {
    const b = await bundleModule(module);
    if (!this.#known.has(b.hash)) await this.pushMany([module]);
    return b;
  }

  // Runs `kind` on a pushed bundle; pushes again once if the remote lost it.
  async #callExport(
    kind: "run" | "spawn",
    module: ModuleRef,
    fn: string,
    args: unknown[],
    options: SpawnOptions,
  ): Promise<unknown> {
    if (typeof fn !== "string" || fn === "") {
      throw new TypeError("the export name must be a string");
    }
    if (!Array.isArray(args)) throw new TypeError("args must be an array");
    const timeoutMs = options.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
    const isolate = isolateSpec(options, timeoutMs);
    if (isolate && kind === "spawn") throw new TypeError(ISOLATED_SPAWN);
    const link = options.link;
    if (link !== undefined && (kind !== "spawn" || !(link instanceof Pid))) {
      throw new TypeError("link is a spawn option and must be a pid");
    }
    if (link !== undefined && link.node !== this.#hub.name) {
      throw new TypeError(`link must be a process of ${this.#hub.name}, not of ${link.node}`);
    }
    const b = await this.#ensure(module);
    const call = () =>
      isolate
        ? this.#isolated("run", { hash: b.hash, fn, args, isolate })
        : this.#request(kind, { hash: b.hash, fn, args, ...(link ? { link } : {}) }, timeoutMs);
    try {
      return await call();
    } catch (e) {
      if (!(e instanceof RemoteError && e.remoteName === "ModuleMissingError")) throw e;
      this.#known.delete(b.hash);
      await this.pushMany([module]);
      return await call();
    }
  }

  /** Calls export `fn` of `module` on the remote with `args`; resolves with its result. */
  run(
    module: ModuleRef,
    fn: string,
    args: unknown[] = [],
    options: RunOptions = {},
  ): Promise<unknown> {
    return this.#callExport("run", module, fn, args, options);
  }

  /** Ships `fn` by its source and calls it on the remote with `args`. */
  runFun(
    fn: (...args: never[]) => unknown,
    args: unknown[] = [],
    options: RunOptions = {},
  ): Promise<unknown> {
    if (typeof fn !== "function") throw new TypeError("runFun needs a function");
    if (!Array.isArray(args)) throw new TypeError("args must be an array");
    const timeoutMs = options.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
    const isolate = isolateSpec(options, timeoutMs);
    const source = fn.toString();
    return isolate
      ? this.#isolated("runFun", { source, args, isolate })
      : this.#request("runFun", { source, args }, timeoutMs);
  }

  /**
   * Starts an actor on the remote whose body is export `fn` of `module`, called
   * as `fn(ctx, ...args)`; linked to `options.link` from its start.
   */
  async spawn(
    module: ModuleRef,
    fn: string,
    args: unknown[] = [],
    options: SpawnOptions = {},
  ): Promise<Pid> {
    return await this.#callExport("spawn", module, fn, args, options) as Pid;
  }
}
