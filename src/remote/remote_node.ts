import type { Node, RequestOptions } from "../node.ts";
import type { Pid } from "../wire/pid.ts";
import {
  CodeClient,
  type ModuleRef,
  type PushResult,
  type RunOptions,
  type SpawnOptions,
} from "./code_client.ts";

const connected = new Map<string, RemoteNode>();

/** The connected remote node with this full name, if any. */
export function connectedNode(name: string): RemoteNode | undefined {
  return connected.get(name);
}

/**
 * The functions a module exports, as calls that run on the remote.
 *
 * @example
 * ```ts ignore
 * import { connect, type RemoteModule } from "./mod.ts";
 * await using remote = await connect("deploy@web-01");
 * const health: RemoteModule<typeof import("./health.ts")> = remote.module("./health.ts");
 * const report = await health.check(); // runs check() on web-01
 * ```
 */
export type RemoteModule<M> = {
  [K in keyof M as M[K] extends (...args: never[]) => unknown ? K : never]: M[K] extends
    (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

/**
 * What the agent reports about itself.
 *
 * @example
 * ```ts ignore
 * import { connect } from "./mod.ts";
 * await using remote = await connect("deploy@web-01");
 * const { hostname, os, arch, deno } = await remote.info(); // "web-01", "linux", "x86_64", "2.9.6"
 * ```
 */
export interface AgentInfo {
  /** The agent's full node name. */
  node: string;
  /** The agent's process id on the server. */
  pid: number;
  /** The Deno version the agent runs on. */
  deno: string;
  /** The server's OS, as `Deno.build.os` says. */
  os: string;
  /** The server's CPU architecture, as `Deno.build.arch` says. */
  arch: string;
  /** The server's host name. */
  hostname: string;
  /** The agent's working directory. */
  cwd: string;
}

/**
 * A connected remote node: its name, and the calls that reach it. Closing it
 * disconnects (the agent exits, tunnels and SSH close).
 *
 * @example
 * ```ts ignore
 * import { connect } from "./mod.ts";
 * await using remote = await connect("deploy@web-01");
 * console.log(remote.name, await remote.ping()); // "web-01-1a2b@localhost" 0.4
 * const sum = await remote.runFun((a: number, b: number) => a + b, [1, 2]); // 3
 * ```
 */
export class RemoteNode {
  /** The agent's full node name, e.g. "web01-1a2b@localhost". */
  readonly name: string;
  /** The local node this one is connected through (its hub). */
  readonly hub: Node;
  readonly #close: () => Promise<void>;
  readonly #code: CodeClient;

  /** @internal Made by NodeManager. */
  constructor(name: string, hub: Node, close: () => Promise<void>) {
    this.name = name;
    this.hub = hub;
    this.#close = close;
    this.#code = new CodeClient(hub, name);
    connected.set(name, this);
    const off = hub.onNodeDown((peer) => {
      if (peer !== name) return;
      off();
      if (connected.get(name) === this) connected.delete(name);
    });
  }

  /** Pushes a module and what it imports, unless the remote holds it already. */
  pushModule(module: ModuleRef): Promise<PushResult> {
    return this.#code.push(module);
  }

  /** Pushes several modules. */
  pushModules(modules: readonly ModuleRef[]): Promise<PushResult[]> {
    return this.#code.pushMany(modules);
  }

  /** Calls export `fn` of `module` here with `args` (pushing the module when needed). */
  run(
    module: ModuleRef,
    fn: string,
    args: unknown[] = [],
    options: RunOptions = {},
  ): Promise<unknown> {
    return this.#code.run(module, fn, args, options);
  }

  /** Ships a self-contained function by its source and calls it here. */
  runFun<A extends unknown[], R>(
    fn: (...args: A) => R,
    args?: A,
    options: RunOptions = {},
  ): Promise<Awaited<R>> {
    return this.#code.runFun(fn as (...args: never[]) => unknown, args ?? [], options) as Promise<
      Awaited<R>
    >;
  }

  /**
   * Starts an actor here whose body is export `fn` of `module`, called as
   * `fn(ctx, ...args)`; `options.link` links it to a local process from its start.
   */
  spawn(
    module: ModuleRef,
    fn: string,
    args: unknown[] = [],
    options: SpawnOptions = {},
  ): Promise<Pid> {
    return this.#code.spawn(module, fn, args, options);
  }

  /**
   * A typed proxy: `remote.module<typeof import("./health.ts")>(url).check()`
   * runs `check` on the remote and resolves with its result.
   */
  module<M>(module: ModuleRef, options: RunOptions = {}): RemoteModule<M> {
    return new Proxy({}, {
      get: (_, prop) =>
        typeof prop === "string" && prop !== "then"
          ? (...args: unknown[]) => this.run(module, prop, args, options)
          : undefined,
    }) as RemoteModule<M>;
  }

  /** Calls service `kind` on the agent. */
  request(kind: string, payload: unknown, options: RequestOptions = {}): Promise<unknown> {
    return this.hub.request(this.name, kind, payload, options);
  }

  /** Round-trip time of a ping, in milliseconds. */
  async ping(options: RequestOptions = {}): Promise<number> {
    const t0 = performance.now();
    await this.request("ping", null, options);
    return performance.now() - t0;
  }

  /** The agent's node name, pid, Deno version, OS and hostname. */
  info(options: RequestOptions = {}): Promise<AgentInfo> {
    return this.request("info", null, options) as Promise<AgentInfo>;
  }

  /** Disconnects; resolves after the agent has exited. */
  close(): Promise<void> {
    return this.#close();
  }

  /** Same as `close`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
