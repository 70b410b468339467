import { NodeDownError } from "../errors.ts";
import type { Node } from "../node.ts";
import type { NodeManager } from "../remote/node_manager.ts";
import type { RemoteNode } from "../remote/remote_node.ts";
import { formatTarget } from "../ssh/target.ts";
import type { ReconnectOptions } from "./types.ts";

/** What a {@linkcode NodeEndpoint} tells its supervisor. */
export interface EndpointHooks {
  /** A reconnect attempt succeeded. */
  up(remote: RemoteNode): void;
  /** A reconnect attempt failed; the next comes after `retryInMs`. */
  failed(error: Error, attempt: number, retryInMs: number): void;
}

/**
 * One remote node the supervisor's children run on, reached through a
 * NodeManager: whether it is connected now, and a reconnect loop with
 * exponential backoff while it is not.
 */
export class NodeEndpoint {
  readonly manager: NodeManager;
  /** Whether the supervisor made the manager (and so disconnects it at the end). */
  readonly owned: boolean;
  /** The target, for events and errors. */
  readonly label: string;
  readonly #hub: Node;
  readonly #backoff: Required<ReconnectOptions>;
  readonly #hooks: EndpointHooks;
  #loop: Promise<void> | undefined;
  #stopped = false;
  #sleep: { timer: ReturnType<typeof setTimeout>; wake: () => void } | undefined;

  constructor(
    manager: NodeManager,
    owned: boolean,
    hub: Node,
    backoff: Required<ReconnectOptions>,
    hooks: EndpointHooks,
  ) {
    this.manager = manager;
    this.owned = owned;
    this.#hub = hub;
    this.#backoff = backoff;
    this.#hooks = hooks;
    this.label = formatTarget(manager.target);
  }

  /** Whether a reconnect loop runs. */
  get reconnecting(): boolean {
    return this.#loop !== undefined;
  }

  /** The remote node when its connection is up now, else undefined. Never dials. */
  async current(): Promise<RemoteNode | undefined> {
    if (this.manager.status() !== "connected") return undefined;
    const remote = await this.manager.connect();
    return this.#hub.nodes().includes(remote.name) ? remote : undefined;
  }

  /** Connects once (or returns the live connection); rejects when it cannot. */
  async connect(): Promise<RemoteNode> {
    if (this.manager.status() === "connected") {
      const remote = await this.manager.connect();
      if (this.#hub.nodes().includes(remote.name)) return this.#check(remote);
      // Connected by the manager's account but gone from the hub: start over.
      await this.manager.disconnect();
    }
    const remote = await this.manager.connect();
    if (!this.#hub.nodes().includes(remote.name)) {
      throw new NodeDownError(remote.name, `${remote.name} went down right after connecting`);
    }
    return this.#check(remote);
  }

  #check(remote: RemoteNode): RemoteNode {
    if (remote.hub !== this.#hub) {
      throw new TypeError(
        `the NodeManager for ${this.label} uses node ${remote.hub.name}, not the supervisor's ${this.#hub.name}`,
      );
    }
    return remote;
  }

  /** Starts the reconnect loop unless it runs; `up` is called once it succeeds. */
  reconnect(): void {
    if (this.#loop || this.#stopped) return;
    this.#loop = this.#reconnectLoop().finally(() => this.#loop = undefined);
  }

  async #reconnectLoop(): Promise<void> {
    let wait = this.#backoff.initialMs;
    for (let attempt = 1; !this.#stopped; attempt++) {
      try {
        const remote = await this.connect();
        if (!this.#stopped) this.#hooks.up(remote);
        return;
      } catch (e) {
        if (this.#stopped) return;
        // ±20 % jitter, so that many supervisors do not retry in step.
        const retryInMs = Math.round(wait * (0.8 + 0.4 * Math.random()));
        this.#hooks.failed(e instanceof Error ? e : new Error(String(e)), attempt, retryInMs);
        await this.#pause(retryInMs);
        wait = Math.min(wait * this.#backoff.factor, this.#backoff.maxMs);
      }
    }
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleep = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleep = { timer, wake };
    });
  }

  /** Stops reconnecting; disconnects the manager when the supervisor made it. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#sleep?.wake();
    if (this.owned) await this.manager.disconnect().catch(() => {});
    else await this.#loop;
  }
}
