import { hmac } from "../dist/credentials.ts";

/** Domain-separation label of a registration proof. */
export const REGISTER_CONTEXT = "fusion-register-v1";

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
