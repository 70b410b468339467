import { type Credentials, proofKey } from "../dist/credentials.ts";
import { AuthenticationError } from "../errors.ts";
import { type Limits, resolveLimits } from "../limits.ts";
import { ClientConn } from "./_client_conn.ts";
import { expectChallenge, expectOk, isPort } from "./_protocol.ts";
import { validateNodeName } from "./node_name.ts";
import { registrationProof } from "./registration_proof.ts";
import { resolveRegistryPort } from "./registry_port.ts";

/** Options for {@linkcode register}. */
export interface RegisterOptions {
  /** The cookie (any name) or the name's ticket. */
  credentials: Credentials;
  /** The registry's port; default `FUSION_REGISTRY_PORT`, else 4370. */
  registryPort?: number;
  /** The registry's host; default 127.0.0.1. */
  host?: string;
  /** `handshakeTimeoutMs` bounds each step of the registration. */
  limits?: Partial<Limits>;
  /** Abandons the registration while it is being made. */
  signal?: AbortSignal;
}

/** A live registration: it lasts as long as its connection to the registry. */
export interface RegistryLease extends AsyncDisposable {
  /** The registered full node name. */
  readonly name: string;
  /** The advertised port. */
  readonly port: number;
  /** The registry's port. */
  readonly registryPort: number;
  /** Resolves when the registration ends: closed here, or the registry went away. */
  readonly ended: Promise<void>;
  /** Ends the registration and waits until its connection is gone. */
  close(): Promise<void>;
}

/**
 * Registers `name` → `port` once, without failover (see `keepRegistered` for
 * that). Throws `InvalidNameError`, `RangeError` for a bad port,
 * `AuthenticationError` for a wrong or foreign proof, `NameTakenError` when the
 * name is live elsewhere, `ConnectError` when no registry answers.
 */
export async function register(
  name: string,
  port: number,
  options: RegisterOptions,
): Promise<RegistryLease> {
  validateNodeName(name);
  if (!isPort(port)) throw new RangeError(`advertised port must be 1-65535, not ${port}`);
  const key = proofKey(options.credentials, name);
  if (!key) {
    throw new AuthenticationError(`a ticket for another name cannot register ${name}`);
  }
  const limits = resolveLimits(options.limits);
  const registryPort = resolveRegistryPort(options.registryPort);
  const conn = await ClientConn.connect(registryPort, {
    host: options.host ?? "127.0.0.1",
    limits,
    signal: options.signal,
  });
  try {
    conn.send(["register", name, port]);
    const nonce = expectChallenge(await conn.receive(limits.handshakeTimeoutMs, options.signal));
    conn.send(["prove", registrationProof(key, { nonce, name, port })]);
    // A refusal may come after the registry's failure delay.
    expectOk(await conn.receive(2 * limits.handshakeTimeoutMs, options.signal), "register");
  } catch (e) {
    await conn.close();
    throw e;
  }
  return {
    name,
    port,
    registryPort,
    ended: conn.closed,
    close: () => conn.close(),
    [Symbol.asyncDispose]: () => conn.close(),
  };
}
