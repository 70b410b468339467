/** A server-side listener of one of Fusion's reverse tunnels, bound beyond loopback. */
export interface ExposedTunnel {
  /** Which tunnel: the one to the hub's registry, or the one to the hub node. */
  tunnel: "registry" | "hub";
  /** The address sshd bound on the server: "0.0.0.0", "::", … */
  address: string;
  /** The server-side port. */
  port: number;
}

/**
 * Something about a connection worth knowing; the connection still works.
 * `NodeManagerOptions.onWarning` receives each one (default: `console.warn` of
 * its `message`); an error thrown there fails the connect.
 *
 * @example
 * ```ts ignore
 * await connect("deploy@web-01", {
 *   onWarning: (w) => {
 *     if (w.code === "exposed_tunnels") throw new Error(w.message); // refuse such servers
 *   },
 * });
 * ```
 */
export interface ConnectionWarning {
  /**
   * "exposed_tunnels": the server's sshd listens for the reverse tunnels beyond
   * 127.0.0.1 (sshd_config `GatewayPorts yes`), so anyone who reaches the server
   * reaches the hub's registry and node through them; they still need the cookie or
   * a ticket. Reported once per connection, before `connect()` resolves.
   */
  code: "exposed_tunnels";
  /** The target's host. */
  host: string;
  /** The agent's full node name. */
  node: string;
  /** One line for people. */
  message: string;
  /** The listeners beyond loopback. */
  tunnels: ExposedTunnel[];
}

/** What `onWarning` does when not given: one line on stderr. */
export function defaultOnWarning(warning: ConnectionWarning): void {
  console.warn(`fusion: warning: ${warning.message}`);
}

/**
 * The warning for the agent's report of exposed listeners (its `exposed` field, checked
 * here: it comes from the server) on the tunnel ports in `context`, or undefined when
 * there is none.
 */
export function exposedTunnelsWarning(
  reported: unknown,
  context: { registry: number; hub: number; host: string; node: string },
): ConnectionWarning | undefined {
  if (!Array.isArray(reported)) return undefined;
  const tunnels: ExposedTunnel[] = [];
  for (const e of reported.slice(0, 64)) {
    const { address, port } = (e ?? {}) as { address?: unknown; port?: unknown };
    if (typeof address !== "string" || !/^[0-9A-Fa-f.:]{2,45}$/.test(address)) continue;
    const tunnel = port === context.registry
      ? "registry"
      : port === context.hub
      ? "hub"
      : undefined;
    if (tunnel) tunnels.push({ tunnel, address, port: port as number });
  }
  if (tunnels.length === 0) return undefined;
  const addresses = [...new Set(tunnels.map((t) => t.address))].join(", ");
  const ports = [...new Set(tunnels.map((t) => `${t.port} (${t.tunnel})`))].join(", ");
  return {
    code: "exposed_tunnels",
    host: context.host,
    node: context.node,
    tunnels,
    message: `the sshd on ${context.host} listens for ${context.node}'s reverse tunnels beyond ` +
      `127.0.0.1: on ${addresses}, ports ${ports}; it has "GatewayPorts yes". Anyone who can ` +
      `reach ${context.host} reaches the hub's registry and node there (they still need the ` +
      `cookie or a ticket to get in). Set "GatewayPorts no" (the default) or "clientspecified" ` +
      `on the server.`,
  };
}
