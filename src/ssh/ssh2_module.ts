/**
 * npm:ssh2, loaded so that its chacha20-poly1305 leaks nothing under Deno.
 *
 * Without a native binding, ssh2 runs chacha20-poly1305 in JS: per packet it
 * makes three `createCipheriv("chacha20", …)` / `createDecipheriv` ciphers,
 * calls `update()` once on each and drops them. Deno frees a cipher's native
 * state only in `final()`, so each packet leaked ~0.5 KB for the life of the
 * process. ssh2 takes `createCipheriv`/`createDecipheriv` from `node:crypto`
 * once, when its module loads: for that moment only, they are swapped for
 * versions whose chacha20 ciphers finalize after their one `update()` (a
 * stream cipher's `final()` gives nothing more). Everyone else, user code
 * included, keeps the real functions.
 * @module
 */
import crypto from "node:crypto";

type CipherFactory = (alg: string, ...rest: unknown[]) => {
  update(data: Uint8Array): Uint8Array;
  final(): Uint8Array;
};

const mutable = crypto as unknown as Record<string, CipherFactory>;
const realCipher = mutable.createCipheriv!;
const realDecipher = mutable.createDecipheriv!;

/** How many chacha20 ciphers were made by the wrapped factories: a test's proof that ssh2 uses them. */
export let oneShotCiphers = 0;

const oneShot = (real: CipherFactory): CipherFactory => (alg, ...rest) => {
  const c = real(alg, ...rest);
  if (alg !== "chacha20") return c;
  oneShotCiphers++;
  return {
    update(data: Uint8Array): Uint8Array {
      const out = c.update(data);
      c.final();
      return out;
    },
    final: () => new Uint8Array(0),
  };
};

mutable.createCipheriv = oneShot(realCipher);
mutable.createDecipheriv = oneShot(realDecipher);
let loaded: typeof import("ssh2");
try {
  loaded = await import("ssh2");
} finally {
  mutable.createCipheriv = realCipher;
  mutable.createDecipheriv = realDecipher;
}

/** The ssh2 module (loaded once, with the chacha20 fix above). */
export const ssh2: typeof import("ssh2") = loaded;
