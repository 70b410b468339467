/**
 * Swaps node:crypto's `createCipheriv`/`createDecipheriv` for versions whose
 * chacha20 ciphers finalize after their one `update()`, when this module is
 * evaluated; `restoreCrypto()` puts the real ones back. Only ssh2_module.ts
 * imports it, right before "ssh2", so that ssh2 (which takes the functions once,
 * as it loads) gets these and nobody else does: between this module's
 * evaluation and ssh2_module.ts's body only ssh2 and its dependencies run.
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

/** How many chacha20 ciphers the swapped factories made: a test's proof that ssh2 uses them. */
export const oneShot = { ciphers: 0 };

const finalizing = (real: CipherFactory): CipherFactory => (alg, ...rest) => {
  const c = real(alg, ...rest);
  if (alg !== "chacha20") return c;
  oneShot.ciphers++;
  return {
    update(data: Uint8Array): Uint8Array {
      const out = c.update(data);
      c.final(); // a stream cipher: nothing more comes out, and Deno frees the cipher here
      return out;
    },
    final: () => new Uint8Array(0),
  };
};

mutable.createCipheriv = finalizing(realCipher);
mutable.createDecipheriv = finalizing(realDecipher);

/** Puts node:crypto's own functions back. */
export function restoreCrypto(): void {
  mutable.createCipheriv = realCipher;
  mutable.createDecipheriv = realDecipher;
}

/** True when node:crypto holds its own functions. */
export function cryptoRestored(): boolean {
  return mutable.createCipheriv === realCipher && mutable.createDecipheriv === realDecipher;
}
