import type { Limits } from "../limits.ts";

/** Checks one CBOR item before it is decoded. Throws `ProtocolError`. */
export function prescan(_bytes: Uint8Array, _limits: Limits): void {
  // TODO(wire): iterative well-formedness, depth, lengths, tags.
}
