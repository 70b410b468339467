import type { Credentials } from "../dist/credentials.ts";
import { ProtocolError } from "../errors.ts";
import { type Limits, resolveLimits } from "../limits.ts";
import { ClientConn } from "./_client_conn.ts";
import { expectChallenge, expectOk, isPort } from "./_protocol.ts";
import { isValidNodeName, validateNodeName } from "./node_name.ts";
import { queryKey, queryProof } from "./registration_proof.ts";
import { resolveRegistryPort } from "./registry_port.ts";
import type { RegistryEntry } from "./registry_server.ts";

/** Options for {@linkcode lookup} and {@linkcode names}. */
export interface RegistryQueryOptions {
  /**
   * What the query is proven with: the cookie, or a ticket (which may look up
   * names but not list them).
   */
  credentials: Credentials;
  /** The registry's port; default `FUSION_REGISTRY_PORT`, else 4370. */
  port?: number;
  /** The registry's host; default 127.0.0.1. */
  host?: string;
  /** `handshakeTimeoutMs` bounds each step of the query; `maxFrameBytes` bounds the answer. */
  limits?: Partial<Limits>;
  /** Abandons the query. */
  signal?: AbortSignal;
}

/**
 * The port registered for the full node name `name`, or undefined when none is.
 * Throws `InvalidNameError` for a malformed name, `AuthenticationError` when the
 * registry refuses the proof, `ConnectError` when no registry answers.
 */
export async function lookup(
  name: string,
  options: RegistryQueryOptions,
): Promise<number | undefined> {
  validateNodeName(name);
  const reply = await query("lookup", name, options);
  const port = reply[1];
  if (reply.length !== 2 || (port !== null && !isPort(port))) {
    throw new ProtocolError("registry: malformed lookup answer");
  }
  return port ?? undefined;
}

/**
 * Every node registered, sorted by name. Needs the cookie: the registry refuses
 * a ticket with `AuthenticationError`, as it does a wrong proof. Throws
 * `ConnectError` when no registry answers.
 */
export async function names(options: RegistryQueryOptions): Promise<RegistryEntry[]> {
  const reply = await query("names", "", options);
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

// request → challenge → proof → answer, on one connection.
async function query(
  verb: "lookup" | "names",
  name: string,
  options: RegistryQueryOptions,
): Promise<unknown[]> {
  const limits = resolveLimits(options.limits);
  const { key, holder } = queryKey(options.credentials);
  const conn = await ClientConn.connect(resolveRegistryPort(options.port), {
    host: options.host ?? "127.0.0.1",
    limits,
    signal: options.signal,
  });
  try {
    conn.send(verb === "lookup" ? ["lookup", name] : ["names"]);
    const nonce = expectChallenge(await conn.receive(limits.handshakeTimeoutMs, options.signal));
    conn.send(["prove", queryProof(key, { nonce, verb, name, holder }), holder]);
    // A refusal may come after the registry's failure delay.
    return expectOk(await conn.receive(2 * limits.handshakeTimeoutMs, options.signal), verb);
  } finally {
    await conn.close();
  }
}
