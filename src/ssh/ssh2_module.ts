/**
 * npm:ssh2, loaded so that its chacha20-poly1305 leaks nothing under Deno.
 *
 * Without a native binding, ssh2 runs chacha20-poly1305 in JS: per packet it
 * makes three `createCipheriv("chacha20", …)` / `createDecipheriv` ciphers,
 * calls `update()` once on each and drops them. Deno frees a cipher's native
 * state only in `final()`, so each packet leaked ~0.5 KB for the life of the
 * process. ssh2 takes those functions from `node:crypto` once, as it loads:
 * `_crypto_swap.ts` (imported just before it) hands it versions whose chacha20
 * ciphers finalize after their one `update()`, and the real ones are put back
 * as soon as ssh2 has loaded, all synchronously. Everyone else, user code
 * included, keeps the real functions. (An application that imports npm:ssh2
 * itself before Fusion gets ssh2 unpatched: the leak is back for it.)
 * @module
 */
import { oneShot, restoreCrypto } from "./_crypto_swap.ts";
import * as loaded from "ssh2";

restoreCrypto();

/** The ssh2 module (loaded once, with the chacha20 fix above). */
export const ssh2: typeof loaded = loaded;

/** How many chacha20 ciphers ssh2 made through the finalizing factories so far. */
export function oneShotCiphers(): number {
  return oneShot.ciphers;
}
