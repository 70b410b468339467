/**
 * Content hashes for bundles.
 * @module
 */
import { createHash } from "node:crypto";

/** Hex sha256 of `bytes` (synchronous, so warm cache checks stay cheap). */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}
