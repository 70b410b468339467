import { addExtension, Encoder } from "cbor-x";
import { ProtocolError, RemoteError } from "../errors.ts";
import { type Limits, resolveLimits } from "../limits.ts";
import { checkSendable, LARGE_BYTES } from "./assert_sendable.ts";
import { encodeFrame, frameBuffer } from "./frame.ts";
import { Pid } from "./pid.ts";
import { prescan } from "./prescan.ts";
import { Ref } from "./ref.ts";
import { TAGS } from "./tags.ts";

export { TAGS };

// cbor-x keeps its extensions in one process-wide table; these are all Fusion adds.
addExtension<Pid, [string, number, number]>({
  Class: Pid,
  tag: TAGS.pid,
  encode: (p, enc) => enc([p.node, p.id, p.creation]),
  decode: ([node, id, creation]) => new Pid(node, id, creation),
});
addExtension<Ref, [string, number, number]>({
  Class: Ref,
  tag: TAGS.ref,
  encode: (r, enc) => enc([r.node, r.id, r.creation]),
  decode: ([node, id, creation]) => new Ref(node, id, creation),
});

/** What an error becomes on the wire. */
interface ErrorFields {
  name: string;
  message: string;
  stack: string;
  cause?: unknown;
}

// cbor-x matches extension classes with instanceof, so this covers every Error subclass.
addExtension<Error, ErrorFields>({
  Class: Error,
  tag: TAGS.error,
  encode: (e, enc) => enc(errorFields(e)),
  decode: (f) => new RemoteError(f),
});

// cbor-x decodes bignum bytes one shift at a time (quadratic); this is linear.
for (const [tag, sign] of [[2, 1n], [3, -1n]] as const) {
  addExtension(
    {
      tag,
      decode: (bytes: Uint8Array) =>
        sign === 1n ? bytesToBigInt(bytes) : -1n - bytesToBigInt(bytes),
    } as unknown as Parameters<typeof addExtension<unknown, unknown>>[0],
  );
}

function errorFields(e: Error): ErrorFields {
  let name: string;
  let message = String(e.message);
  let stack: string;
  if (e instanceof RemoteError) {
    // Relayed as it arrived, so that it does not grow a "Name: " prefix per hop.
    name = e.remoteName;
    if (message.startsWith(`${name}: `)) message = message.slice(name.length + 2);
    stack = e.remoteStack;
  } else {
    name = typeof e.name === "string" ? e.name : "Error";
    stack = typeof e.stack === "string" ? e.stack : "";
  }
  const cause = e.cause;
  return cause === undefined ? { name, message, stack } : { name, message, stack, cause };
}

const HEX_DIGITS = new TextEncoder().encode("0123456789abcdef");
const latin1 = new TextDecoder("latin1");

function bytesToBigInt(bytes: Uint8Array): bigint {
  const n = bytes.length;
  if (n <= 6) {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + bytes[i]!;
    return BigInt(v);
  }
  const hex = new Uint8Array(2 * n + 2);
  hex[0] = 0x30; // "0x"
  hex[1] = 0x78;
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    hex[2 * i + 2] = HEX_DIGITS[b >> 4]!;
    hex[2 * i + 3] = HEX_DIGITS[b & 15]!;
  }
  return BigInt(latin1.decode(hex));
}

/** Options for {@linkcode Codec}. */
export interface CodecOptions {
  /**
   * Limits; `maxDepth` and `maxItems` apply to both directions, `maxFrameBytes` to
   * the size of an encoded value (a peer with the same limits would refuse it).
   */
  limits?: Partial<Limits>;
}

/** Options for {@linkcode Codec.decode}. */
export interface DecodeOptions {
  /**
   * The caller hands `bytes` over for good (a frame gathered into its own buffer): a
   * large frame's byte strings then arrive as views into it instead of copies.
   */
  owned?: boolean;
}

/**
 * Encodes values to CBOR and decodes checked CBOR back. Make one per connection.
 *
 * Decoding runs the pre-scan first, so cbor-x only ever sees well-formed items with the
 * tags and shapes Fusion writes; every failure is a `ProtocolError`.
 */
export class Codec {
  /** The limits in force. */
  readonly limits: Readonly<Limits>;
  readonly #cbor: Encoder;
  /** Decodes byte strings as views into an owned frame instead of copying them. */
  readonly #views: Encoder;

  constructor(options: CodecOptions = {}) {
    this.limits = Object.freeze(resolveLimits(options.limits));
    this.#cbor = new Encoder({
      useRecords: false,
      structuredClone: false,
      mapsAsObjects: true,
      tagUint8Array: false,
      variableMapSize: true, // smallest map headers, as RFC 8949 prefers
      copyBuffers: true, // decoded bytes never alias the frame's buffer
    });
    this.#views = new Encoder({
      useRecords: false,
      structuredClone: false,
      mapsAsObjects: true,
      copyBuffers: false,
    });
  }

  /**
   * Encodes one value to a CBOR item. Throws `ProtocolError` for values that cannot be
   * sent (see `assertSendable`) or that encode to more than `maxFrameBytes`. The result
   * may be a view into a shared buffer: do not write to it.
   */
  encode(value: unknown): Uint8Array {
    if (checkSendable(value, this.limits) > 0) return this.#direct(value, 0);
    const out = this.#encode(value);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }

  /**
   * Encodes one value as a whole frame: u32 big-endian length, then the CBOR item.
   * Like {@linkcode encodeFrame}, the result may share its `buffer` with other frames.
   */
  encodeFrame(value: unknown): Uint8Array {
    if (checkSendable(value, this.limits) > 0) return this.#direct(value, 4);
    return encodeFrame(this.#encode(value));
  }

  /**
   * Checks then decodes one frame body; throws only `ProtocolError`. Byte strings arrive
   * as copies, except from a large `owned` body: there they are views into it (mind
   * `byteOffset`), so a 1 MiB binary is not copied once more.
   */
  decode(bytes: Uint8Array, options?: DecodeOptions): unknown {
    if (!(bytes instanceof Uint8Array)) throw new ProtocolError("cannot decode: not a Uint8Array");
    // A Buffer (from node:net or ssh2) would make decoded bytes Buffers too.
    const src = bytes.constructor === Uint8Array
      ? bytes
      : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    prescan(src, this.limits);
    const cbor = options?.owned && src.length >= LARGE_BYTES ? this.#views : this.#cbor;
    try {
      return cbor.decode(src);
    } catch (e) {
      // Reaching this is a pre-scan gap; the fuzz test looks for this prefix.
      throw new ProtocolError(`cannot decode frame: ${(e as Error)?.message}`, { cause: e });
    }
  }

  /** cbor-x's encoding of a value already checked by `checkSendable`. */
  #encode(value: unknown): Uint8Array {
    let out: Uint8Array;
    try {
      out = this.#cbor.encode(value);
    } catch (e) {
      throw new ProtocolError(`cannot encode value: ${(e as Error)?.message}`, { cause: e });
    }
    this.#checkSize(out.length);
    return out;
  }

  #checkSize(size: number): void {
    const maxFrameBytes = this.limits.maxFrameBytes;
    if (size > maxFrameBytes) {
      throw new ProtocolError(
        `cannot send a value of ${size} bytes: over maxFrameBytes (${maxFrameBytes})`,
      );
    }
  }

  /**
   * The same bytes as cbor-x would write, for a value holding large byte strings: those
   * are copied once, straight into the result (after `prefix` bytes of u32 length when
   * `prefix` is 4), instead of into cbor-x's buffer, which would copy them again and grow
   * by allocating four times their size. Arrays and plain objects on the way to a large
   * byte string are written here; everything else by cbor-x.
   */
  #direct(value: unknown, prefix: 0 | 4): Uint8Array {
    const parts: Uint8Array[] = [];
    let size = 0;
    const put = (b: Uint8Array) => {
      parts.push(b);
      size += b.length;
    };
    const emit = (v: unknown, depth: number): void => {
      const bytes = largeBytes(v);
      if (bytes) {
        put(cborHead(2, bytes.length));
        put(bytes);
        return;
      }
      if (depth < DIRECT_DEPTH && holdsLarge(v, DIRECT_DEPTH - depth)) {
        if (Array.isArray(v)) {
          put(cborHead(4, v.length));
          for (let i = 0; i < v.length; i++) emit(v[i], depth + 1);
        } else {
          const obj = v as Record<string, unknown>;
          const keys = Object.keys(obj);
          put(cborHead(5, keys.length));
          for (const k of keys) {
            put(this.#encode(k).slice());
            emit(obj[k], depth + 1);
          }
        }
        return;
      }
      put(this.#encode(v).slice()); // the slice: cbor-x reuses its buffer
    };
    emit(value, 0);
    this.#checkSize(size);
    // A frame may reuse a buffer the TCP transport has finished writing (frameBuffer).
    const out = prefix === 4 ? frameBuffer(4 + size) : new Uint8Array(size);
    if (prefix === 4) new DataView(out.buffer).setUint32(0, size);
    let off = prefix;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

/** How deep `#direct` looks for large byte strings, and how many children per container. */
const DIRECT_DEPTH = 8;
const DIRECT_WIDTH = 64;

function largeBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v.byteLength >= LARGE_BYTES ? v : undefined;
  if (v instanceof ArrayBuffer && v.byteLength >= LARGE_BYTES) return new Uint8Array(v);
  return undefined;
}

/** Whether a large byte string is reachable from `v` through small arrays and plain objects. */
function holdsLarge(v: unknown, levels: number): boolean {
  if (largeBytes(v)) return true;
  if (levels === 0 || v === null || typeof v !== "object") return false;
  const ctor = (v as object).constructor;
  if (ctor === Array) {
    const arr = v as unknown[];
    if (arr.length > DIRECT_WIDTH) return false;
    for (let i = 0; i < arr.length; i++) if (holdsLarge(arr[i], levels - 1)) return true;
  } else if (ctor === Object) {
    const vals = Object.values(v);
    if (vals.length > DIRECT_WIDTH) return false;
    for (const x of vals) if (holdsLarge(x, levels - 1)) return true;
  }
  return false;
}

/** A CBOR head of major type `major` with argument `n` (< 2^32), shortest form. */
function cborHead(major: number, n: number): Uint8Array {
  const m = major << 5;
  if (n < 24) return new Uint8Array([m | n]);
  if (n < 0x100) return new Uint8Array([m | 24, n]);
  if (n < 0x10000) return new Uint8Array([m | 25, n >> 8, n & 0xff]);
  return new Uint8Array([m | 26, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

export { RemoteError };
