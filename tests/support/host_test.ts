/**
 * A test with its own OpenSSH sshd host (and user), a fault relay in front of
 * it when asked for, and a local hub node; all taken down whatever happens,
 * after a deadline at most.
 * @module
 */
import type { Limits } from "../../src/limits.ts";
import { Node } from "../../src/node.ts";
import type { Target } from "../../src/ssh/mod.ts";
import { type FaultRelay, type FaultRelayOptions, startFaultRelay } from "./fault_relay.ts";
import { knownHostsText } from "./keys.ts";
import { type SshdHost, sshdUnavailable, startSshd, type StartSshdOptions } from "./sshd.ts";

/** Why sshd tests are skipped, or undefined (printed loudly by sshdUnavailable). */
export const unavailable: string | undefined = await sshdUnavailable();

/** What a host test gets. */
export interface HostTestContext {
  host: SshdHost;
  /** The relay in front of sshd, when asked for. */
  relay: FaultRelay | undefined;
  /** A fresh local hub node with its own registry on a kernel-chosen port. */
  hub: Node;
  /** Reaches sshd (through the relay when there is one) under strict host key checking. */
  target: Target;
  t: Deno.TestContext;
}

/** Options for {@linkcode hostTest}. */
export interface HostTestOptions {
  /** Put a fault relay in front of sshd, shaped so. */
  relay?: FaultRelayOptions;
  /** The hub's cookie (default: the user's cookie file, as Node.start finds it). */
  cookie?: Uint8Array;
  /** The hub's tick timeout. */
  tickTimeoutMs?: number;
  /** The hub's limits. */
  limits?: Partial<Limits>;
  /** The whole test fails after this long (default 60 000 ms). */
  deadlineMs?: number;
  /** For startSshd. */
  sshd?: StartSshdOptions;
  /** Or a host made elsewhere (a namespace host); stopped afterwards all the same. */
  startHost?: () => Promise<SshdHost>;
  /** Skip for another reason too. */
  ignore?: boolean;
}

/** Registers a Deno test that gets its own sshd host and hub (see the module doc). */
export function hostTest(
  name: string,
  options: HostTestOptions,
  fn: (c: HostTestContext) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: unavailable !== undefined || (options.ignore ?? false),
    // ssh2 and sshd leave timers and sockets that end shortly after a test.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      const host = await (options.startHost ?? (() => startSshd(options.sshd ?? {})))();
      let relay: FaultRelay | undefined;
      let hub: Node | undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        let target = host.target();
        if (options.relay) {
          relay = await startFaultRelay(host.port, { targetHost: host.host, ...options.relay });
          // known_hosts names the relay's address: the key is the host's own.
          const knownHosts = `${host.dir}/known_hosts_relay`;
          await Deno.writeTextFile(
            knownHosts,
            knownHostsText("127.0.0.1", relay.port, host.hostKeys.map((k) => k.publicKey)),
          );
          target = host.target({
            host: "127.0.0.1",
            port: relay.port,
            hostKeys: { policy: "strict", knownHosts },
          });
        }
        hub = await Node.start({
          name: `hub-${crypto.randomUUID().slice(0, 6)}`,
          registryPort: 0,
          ...(options.cookie ? { cookie: options.cookie } : {}),
          ...(options.tickTimeoutMs ? { tickTimeoutMs: options.tickTimeoutMs } : {}),
          ...(options.limits ? { limits: options.limits } : {}),
        });
        const deadlineMs = options.deadlineMs ?? 60_000;
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`test took over ${deadlineMs} ms`)),
            deadlineMs,
          );
        });
        await Promise.race([fn({ host, relay, hub, target, t }), deadline]);
      } finally {
        clearTimeout(timer);
        await hub?.close();
        // A frozen relay would keep sshd's side of the connection open: reset it first.
        relay?.reset();
        await relay?.close();
        await host.stop();
      }
    },
  });
}
