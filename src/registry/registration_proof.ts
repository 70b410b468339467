import { cookieKey, type Credentials, hmac } from "../dist/credentials.ts";

/** Domain-separation label of a registration proof. */
export const REGISTER_CONTEXT = "fusion-register-v1";

/** Domain-separation label of a query (lookup, names) proof. */
export const QUERY_CONTEXT = "fusion-query-v1";

/** What a registration proof binds: the registry's nonce, the name and the advertised port. */
export interface RegistrationClaim {
  /** The fresh random bytes from the registry's `["challenge", nonce]`. */
  nonce: Uint8Array;
  /** The full node name being registered. */
  name: string;
  /** The advertised port. */
  port: number;
}

/**
 * The MAC that proves a registration: HMAC(key, "fusion-register-v1", nonce,
 * name, port as decimal text), where `key` is `proofKey(credentials, name)`,
 * i.e. the name's ticket.
 */
export function registrationProof(key: Uint8Array, claim: RegistrationClaim): Uint8Array {
  return hmac(key, REGISTER_CONTEXT, claim.nonce, claim.name, String(claim.port));
}

/** What a query proof binds: the registry's nonce, the request, and who proves it. */
export interface QueryClaim {
  /** The fresh random bytes from the registry's `["challenge", nonce]`. */
  nonce: Uint8Array;
  /** The request's verb. */
  verb: "lookup" | "names";
  /** The name looked up; "" for `names`. */
  name: string;
  /** null when proven with the cookie; else the node name whose ticket makes the key. */
  holder: string | null;
}

/**
 * The key a query is proven with, and the holder named in the proof: the key
 * cookie holders share (`cookieKey`) with holder null, or a ticket with its name.
 */
export function queryKey(credentials: Credentials): { key: Uint8Array; holder: string | null } {
  if (credentials.kind === "cookie") return { key: cookieKey(credentials)!, holder: null };
  return { key: credentials.ticket, holder: credentials.name };
}

/**
 * The MAC that proves a query: HMAC(key, "fusion-query-v1", nonce, verb, name,
 * holder or ""), where `key` is from {@linkcode queryKey}.
 */
export function queryProof(key: Uint8Array, claim: QueryClaim): Uint8Array {
  return hmac(key, QUERY_CONTEXT, claim.nonce, claim.verb, claim.name, claim.holder ?? "");
}
