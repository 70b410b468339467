/** Shared bits of the hardening tests. */
import { tcpConnect } from "../../src/dist/tcp.ts";
import type { Transport } from "../../src/dist/transport.ts";

import { sleep, within } from "../support/_proc.ts";

export { sleep, within };

/** The cookie the hardening tests' nodes share. */
export const COOKIE: Uint8Array = new TextEncoder().encode("hardening-cookie-0123456789abcdef");

/** The rejection of `p` (which must reject within `ms`), and how long it took. */
export async function rejection(
  p: Promise<unknown>,
  ms: number,
  what: string,
): Promise<{ error: unknown; ms: number }> {
  const t0 = performance.now();
  const r = await within(p, ms, what);
  if (r.ok) throw new Error(`${what} resolved instead of rejecting`);
  return { error: r.error, ms: performance.now() - t0 };
}

/** Byte-wise equality. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Open sockets of this process (descriptors that are sockets). */
export function openSockets(): number {
  let n = 0;
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${e.name}`).startsWith("socket:")) n++;
    } catch { /* closed meanwhile */ }
  }
  return n;
}

/** Resident set size of this process, in MiB. */
export function rssMiB(): number {
  return Deno.memoryUsage().rss / (1024 * 1024);
}

/** Polls `check` until it is true; false when `ms` passed first. */
export async function eventually(check: () => boolean, ms: number, stepMs = 20): Promise<boolean> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) return false;
    await sleep(stepMs);
  }
  return true;
}

/** A raw TCP transport to a node's dist port, and a promise of its close. */
export async function rawDial(port: number): Promise<{ t: Transport; closed: Promise<void> }> {
  const t = await tcpConnect(port);
  let closed!: () => void;
  const p = new Promise<void>((r) => closed = r);
  t.start({ data: () => {}, close: () => closed() });
  return { t, closed: p };
}
