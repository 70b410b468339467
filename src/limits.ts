/**
 * Every receive-side limit, with its default, in one place.
 * @module
 */

/**
 * Receive-side limits. Each may be overridden where a component takes `limits`.
 *
 * @example
 * ```ts
 * import { Node } from "./mod.ts";
 * const limits: Partial<Limits> = { maxMailbox: 10_000, maxFrameBytes: 1024 * 1024 };
 * await using node = await Node.start({ registryPort: 0, limits });
 * ```
 */
export interface Limits {
  /** Largest frame body accepted, in bytes. Longer length prefixes are refused before allocation. */
  maxFrameBytes: number;
  /** Largest request frame body the port-mapper registry accepts, in bytes. */
  maxRegistryFrameBytes: number;
  /** Deepest nesting of arrays, maps and tags in one CBOR item. */
  maxDepth: number;
  /** Most items (array elements, map entries) declared in one frame. */
  maxItems: number;
  /** Messages a mailbox holds before further messages are dropped. */
  maxMailbox: number;
  /** Largest frame body accepted before a node-to-node handshake completes, in bytes. */
  maxHandshakeFrameBytes: number;
  /** Time a handshake (or a registry registration) may take, in ms. */
  handshakeTimeoutMs: number;
  /** Silence after which a peer is declared down, in ms. */
  tickTimeoutMs: number;
  /** Bytes queued for writing on one connection before it is treated as stuck. */
  maxWriteBuffer: number;
  /** Sandbox processes an agent runs at once for isolated calls; further calls wait. */
  maxIsolates: number;
}

/**
 * The defaults for every receive-side limit.
 *
 * @example
 * ```ts
 * DEFAULT_LIMITS.maxFrameBytes; // 16777216 (16 MiB)
 * DEFAULT_LIMITS.tickTimeoutMs; // 60000
 * ```
 */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxFrameBytes: 16 * 1024 * 1024,
  maxRegistryFrameBytes: 64 * 1024,
  maxDepth: 256,
  maxItems: 1_000_000,
  maxMailbox: 100_000,
  maxHandshakeFrameBytes: 4096,
  handshakeTimeoutMs: 5_000,
  tickTimeoutMs: 60_000,
  maxWriteBuffer: 256 * 1024 * 1024,
  maxIsolates: 8,
});

/** Fills in defaults for limits not given. */
export function resolveLimits(limits: Partial<Limits> = {}): Limits {
  const out: Limits = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(limits)) {
    if (v !== undefined) (out as unknown as Record<string, number>)[k] = v;
  }
  return out;
}
