import { ProtocolError } from "../errors.ts";
import { type Limits, resolveLimits } from "../limits.ts";
import { ClientConn } from "./_client_conn.ts";
import { expectOk, isPort } from "./_protocol.ts";
import { isValidNodeName, validateNodeName } from "./node_name.ts";
import { resolveRegistryPort } from "./registry_port.ts";
import type { RegistryEntry } from "./registry_server.ts";

/** Options for {@linkcode lookup} and {@linkcode names}. */
export interface RegistryQueryOptions {
  /** The registry's port; default `FUSION_REGISTRY_PORT`, else 4370. */
  port?: number;
  /** The registry's host; default 127.0.0.1. */
  host?: string;
  /** `handshakeTimeoutMs` bounds the whole query; `maxFrameBytes` bounds the answer. */
  limits?: Partial<Limits>;
  /** Abandons the query. */
  signal?: AbortSignal;
}

/**
 * The port registered for the full node name `name`, or undefined when none is.
 * Throws `InvalidNameError` for a malformed name, `ConnectError` when no
 * registry answers.
 */
export async function lookup(
  name: string,
  options: RegistryQueryOptions = {},
): Promise<number | undefined> {
  validateNodeName(name);
  const reply = await query(["lookup", name], options);
  const port = reply[1];
  if (reply.length !== 2 || (port !== null && !isPort(port))) {
    throw new ProtocolError("registry: malformed lookup answer");
  }
  return port ?? undefined;
}

/** Every node registered, sorted by name. Throws `ConnectError` when no registry answers. */
export async function names(options: RegistryQueryOptions = {}): Promise<RegistryEntry[]> {
  const reply = await query(["names"], options);
  const list = reply[1];
  if (reply.length !== 2 || !Array.isArray(list)) {
    throw new ProtocolError("registry: malformed names answer");
  }
  return list.map((e: unknown) => {
    if (!Array.isArray(e) || e.length !== 2 || !isValidNodeName(e[0]) || !isPort(e[1])) {
      throw new ProtocolError("registry: malformed names entry");
    }
    return { name: e[0], port: e[1] };
  });
}

async function query(request: unknown[], options: RegistryQueryOptions): Promise<unknown[]> {
  const limits = resolveLimits(options.limits);
  const conn = await ClientConn.connect(resolveRegistryPort(options.port), {
    host: options.host ?? "127.0.0.1",
    limits,
    signal: options.signal,
  });
  try {
    conn.send(request);
    return expectOk(
      await conn.receive(limits.handshakeTimeoutMs, options.signal),
      request[0] as string,
    );
  } finally {
    await conn.close();
  }
}
