import { type Bundle, bundleModule } from "../code/mod.ts";
import { RemoteError } from "../errors.ts";
import type { Node } from "../node.ts";
import type { Pid } from "../wire/pid.ts";

/** A module to push: a URL, or a string (a URL, or a path relative to the working directory). */
export type ModuleRef = string | URL;

/** What a push did. */
export interface PushResult {
  /** Hex sha256 of the bundle. */
  hash: string;
  /** Code bytes sent now: 0 when the remote already held the bundle. */
  bytes: number;
  /** The source modules inside the bundle. */
  modules: string[];
}

/** Options for run, runFun and spawn. */
export interface RunOptions {
  /** The call is abandoned after this long (TimeoutError); default 30 000 ms. */
  timeoutMs?: number;
}

/** Default time a run may take, like the original's. */
export const DEFAULT_RUN_TIMEOUT_MS = 30_000;

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
    timeoutMs: number,
  ): Promise<unknown> {
    if (typeof fn !== "string" || fn === "") {
      throw new TypeError("the export name must be a string");
    }
    if (!Array.isArray(args)) throw new TypeError("args must be an array");
    const b = await this.#ensure(module);
    try {
      return await this.#request(kind, { hash: b.hash, fn, args }, timeoutMs);
    } catch (e) {
      if (!(e instanceof RemoteError && e.remoteName === "ModuleMissingError")) throw e;
      this.#known.delete(b.hash);
      await this.pushMany([module]);
      return await this.#request(kind, { hash: b.hash, fn, args }, timeoutMs);
    }
  }

  /** Calls export `fn` of `module` on the remote with `args`; resolves with its result. */
  run(
    module: ModuleRef,
    fn: string,
    args: unknown[] = [],
    options: RunOptions = {},
  ): Promise<unknown> {
    return this.#callExport("run", module, fn, args, options.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS);
  }

  /** Ships `fn` by its source and calls it on the remote with `args`. */
  runFun(
    fn: (...args: never[]) => unknown,
    args: unknown[] = [],
    options: RunOptions = {},
  ): Promise<unknown> {
    if (typeof fn !== "function") throw new TypeError("runFun needs a function");
    if (!Array.isArray(args)) throw new TypeError("args must be an array");
    return this.#request(
      "runFun",
      { source: fn.toString(), args },
      options.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS,
    );
  }

  /** Starts an actor on the remote whose body is export `fn` of `module`, called as `fn(ctx, ...args)`. */
  async spawn(
    module: ModuleRef,
    fn: string,
    args: unknown[] = [],
    options: RunOptions = {},
  ): Promise<Pid> {
    return await this.#callExport(
      "spawn",
      module,
      fn,
      args,
      options.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS,
    ) as Pid;
  }
}
