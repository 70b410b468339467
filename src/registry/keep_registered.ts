import type { Credentials } from "../dist/credentials.ts";
import { AuthenticationError, ConnectError, InvalidNameError, NameTakenError } from "../errors.ts";
import { type Limits, resolveLimits } from "../limits.ts";
import { register, type RegistryLease } from "./register.ts";
import { resolveRegistryPort } from "./registry_port.ts";
import { RegistryServer } from "./registry_server.ts";

/** Options for {@linkcode keepRegistered}. */
export interface KeepRegisteredOptions {
  /** The full node name to register. */
  name: string;
  /** The port to advertise (the node's dist listener). */
  port: number;
  /** The cookie, or the name's ticket. Only a cookie holder ever hosts the registry. */
  credentials: Credentials;
  /**
   * The registry's port; default `FUSION_REGISTRY_PORT`, else 4370. 0 hosts a
   * new registry on a kernel-chosen port (read it back from `registryPort`).
   */
  registryPort?: number;
  /** The registry's host; default 127.0.0.1. A registry is hosted only for 127.0.0.1. */
  host?: string;
  /** Whether a cookie holder may host the registry when none answers; default true. */
  hostRegistry?: boolean;
  /** Limits for the registration and for a hosted registry. */
  limits?: Partial<Limits>;
  /** How long the first registration may keep retrying; default `handshakeTimeoutMs`. */
  startTimeoutMs?: number;
  /** Called when the registration is lost (the registry went away). */
  onLost?: () => void;
  /** Called when the name is registered again after a loss. */
  onRestored?: () => void;
  /** Called with each failed attempt to register again. */
  onRetryError?: (error: Error) => void;
}

/** A registration kept alive across registry restarts, until closed. */
export interface Registration extends AsyncDisposable {
  /** The registered full node name. */
  readonly name: string;
  /** The advertised port. */
  readonly port: number;
  /** The registry's port (the kernel's choice when 0 was asked for). */
  readonly registryPort: number;
  /** Whether the name is registered right now. */
  readonly registered: boolean;
  /** Whether this process hosts the registry. */
  readonly hosting: boolean;
  /** Ends the registration, stops retrying, and closes a hosted registry. */
  close(): Promise<void>;
}

/**
 * Registers `name` → `port` and keeps it registered: when no registry answers
 * and the credentials are the cookie, hosts one in-process (127.0.0.1 only);
 * when the registry goes away, waits a small random delay, then hosts a new one
 * or connects to whoever bound the port first, and registers again, until
 * closed. Resolves once first registered; rejects with `NameTakenError`,
 * `AuthenticationError`, `InvalidNameError` at once, and with the last
 * `ConnectError` when nothing could be reached within `startTimeoutMs`.
 */
export async function keepRegistered(options: KeepRegisteredOptions): Promise<Registration> {
  const keeper = new Keeper(options);
  await keeper.start();
  return keeper;
}

class Keeper implements Registration {
  readonly name: string;
  readonly port: number;
  readonly #options: KeepRegisteredOptions;
  readonly #limits: Limits;
  readonly #host: string;
  readonly #mayHost: boolean;
  readonly #abort = new AbortController();
  #registryPort: number;
  #lease: RegistryLease | undefined;
  #server: RegistryServer | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  #sleeping: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | undefined;

  constructor(options: KeepRegisteredOptions) {
    this.name = options.name;
    this.port = options.port;
    this.#options = options;
    this.#limits = resolveLimits(options.limits);
    this.#host = options.host ?? "127.0.0.1";
    this.#mayHost = options.credentials.kind === "cookie" && options.hostRegistry !== false &&
      this.#host === "127.0.0.1";
    this.#registryPort = resolveRegistryPort(options.registryPort);
  }

  get registryPort(): number {
    return this.#registryPort;
  }

  get registered(): boolean {
    return this.#lease !== undefined;
  }

  get hosting(): boolean {
    return this.#server !== undefined;
  }

  async start(): Promise<void> {
    const deadline = Date.now() +
      (this.#options.startTimeoutMs ?? this.#limits.handshakeTimeoutMs);
    for (let i = 0;; i++) {
      try {
        await this.#attempt();
        return;
      } catch (e) {
        if (isPermanent(e) || Date.now() >= deadline) {
          await this.close();
          throw e;
        }
        await this.#sleep(Math.min(retryDelay(i), Math.max(0, deadline - Date.now())));
      }
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#abort.abort(new ConnectError(`the registration of ${this.name} was closed`));
      this.#wake();
      await this.#loop;
      const lease = this.#lease;
      this.#lease = undefined;
      await lease?.close();
      const server = this.#server;
      this.#server = undefined;
      await server?.close();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #attempt(): Promise<void> {
    if (this.#registryPort === 0) await this.#tryHost();
    let lease: RegistryLease;
    try {
      lease = await this.#register();
    } catch (e) {
      if (!(e instanceof ConnectError) || !this.#mayHost || this.#server || this.#closed) throw e;
      await this.#tryHost();
      lease = await this.#register();
    }
    if (this.#closed) {
      await lease.close();
      throw new ConnectError(`the registration of ${this.name} was closed`);
    }
    this.#lease = lease;
    lease.ended.then(() => this.#lost(lease));
  }

  #register(): Promise<RegistryLease> {
    return register(this.name, this.port, {
      credentials: this.#options.credentials,
      registryPort: this.#registryPort,
      host: this.#host,
      limits: this.#limits,
      signal: this.#abort.signal,
    });
  }

  // Binding is the election: whoever binds the port first hosts the registry.
  async #tryHost(): Promise<void> {
    let server: RegistryServer;
    try {
      server = await RegistryServer.listen({
        port: this.#registryPort,
        credentials: this.#options.credentials,
        limits: this.#limits,
      });
    } catch (e) {
      if (e instanceof ConnectError && (e.cause as { code?: unknown })?.code === "EADDRINUSE") {
        return;
      }
      throw e;
    }
    if (this.#closed) {
      await server.close();
      return;
    }
    this.#server = server;
    this.#registryPort = server.port;
  }

  #lost(lease: RegistryLease): void {
    if (this.#closed || this.#lease !== lease) return;
    this.#lease = undefined;
    callSafely(() => this.#options.onLost?.());
    this.#loop = this.#reconnect();
  }

  async #reconnect(): Promise<void> {
    for (let i = 0; !this.#closed; i++) {
      await this.#sleep(retryDelay(i));
      if (this.#closed) return;
      try {
        await this.#attempt();
        callSafely(() => this.#options.onRestored?.());
        return;
      } catch (e) {
        if (!this.#closed) callSafely(() => this.#options.onRetryError?.(e as Error));
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#sleeping = undefined;
        resolve();
      }, ms);
      this.#sleeping = { timer, resolve };
    });
  }

  #wake(): void {
    const s = this.#sleeping;
    this.#sleeping = undefined;
    if (s) {
      clearTimeout(s.timer);
      s.resolve();
    }
  }
}

/** 20-300 ms at first, so that survivors do not all race at once; wider on repeats. */
function retryDelay(attempt: number): number {
  return 20 + Math.random() * Math.min(280 * 2 ** attempt, 1000);
}

function isPermanent(e: unknown): boolean {
  return e instanceof NameTakenError || e instanceof AuthenticationError ||
    e instanceof InvalidNameError || e instanceof RangeError;
}

function callSafely(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    queueMicrotask(() => {
      throw e;
    });
  }
}
