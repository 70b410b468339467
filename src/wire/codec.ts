import { addExtension, Encoder } from "cbor-x";
import { ProtocolError, RemoteError } from "../errors.ts";
import { type Limits, resolveLimits } from "../limits.ts";
import { checkSendable } from "./assert_sendable.ts";
import { encodeFrame } from "./frame.ts";
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
  }

  /**
   * Encodes one value to a CBOR item. Throws `ProtocolError` for values that cannot be
   * sent (see `assertSendable`) or that encode to more than `maxFrameBytes`. The result
   * may be a view into a shared buffer: do not write to it.
   */
  encode(value: unknown): Uint8Array {
    const out = this.#encode(value);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }

  /**
   * Encodes one value as a whole frame: u32 big-endian length, then the CBOR item.
   * Like {@linkcode encodeFrame}, the result may share its `buffer` with other frames.
   */
  encodeFrame(value: unknown): Uint8Array {
    return encodeFrame(this.#encode(value));
  }

  /** Checks then decodes one frame body; throws only `ProtocolError`. */
  decode(bytes: Uint8Array): unknown {
    if (!(bytes instanceof Uint8Array)) throw new ProtocolError("cannot decode: not a Uint8Array");
    // A Buffer (from node:net or ssh2) would make decoded bytes Buffers too.
    const src = bytes.constructor === Uint8Array
      ? bytes
      : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    prescan(src, this.limits);
    try {
      return this.#cbor.decode(src);
    } catch (e) {
      // Reaching this is a pre-scan gap; the fuzz test looks for this prefix.
      throw new ProtocolError(`cannot decode frame: ${(e as Error)?.message}`, { cause: e });
    }
  }

  #encode(value: unknown): Uint8Array {
    checkSendable(value, this.limits);
    const maxFrameBytes = this.limits.maxFrameBytes;
    let out: Uint8Array;
    try {
      out = this.#cbor.encode(value);
    } catch (e) {
      throw new ProtocolError(`cannot encode value: ${(e as Error)?.message}`, { cause: e });
    }
    if (out.length > maxFrameBytes) {
      throw new ProtocolError(
        `cannot send a value of ${out.length} bytes: over maxFrameBytes (${maxFrameBytes})`,
      );
    }
    return out;
  }
}

export { RemoteError };
