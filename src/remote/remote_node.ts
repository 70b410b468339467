import type { Node, RequestOptions } from "../node.ts";

/** What the agent reports about itself. */
export interface AgentInfo {
  node: string;
  pid: number;
  deno: string;
  os: string;
  arch: string;
  hostname: string;
  cwd: string;
}

/**
 * A connected remote node: its name, and the calls that reach it. Closing it
 * disconnects (the agent exits, tunnels and SSH close).
 */
export class RemoteNode {
  /** The agent's full node name, e.g. "web01-1a2b@localhost". */
  readonly name: string;
  /** The local node this one is connected through (its hub). */
  readonly hub: Node;
  readonly #close: () => Promise<void>;

  /** @internal Made by NodeManager. */
  constructor(name: string, hub: Node, close: () => Promise<void>) {
    this.name = name;
    this.hub = hub;
    this.#close = close;
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
