import { addExtension, Encoder } from "cbor-x";
import { ProtocolError, RemoteError } from "../errors.ts";
import { type Limits, resolveLimits } from "../limits.ts";
import { Pid } from "./pid.ts";
import { Ref } from "./ref.ts";
import { prescan } from "./prescan.ts";

/** CBOR tags Fusion adds to the wire. */
export const TAGS = Object.freeze({ pid: 40001, ref: 40002, error: 40003 });

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

/** Options for {@linkcode Codec}. */
export interface CodecOptions {
  /** Receive-side limits; `maxDepth` and `maxFrameBytes` apply here. */
  limits?: Partial<Limits>;
}

/**
 * Encodes values to CBOR and decodes checked CBOR back. One per connection:
 * a decoder keeps no state across frames that a peer could poison.
 */
export class Codec {
  readonly #limits: Limits;
  readonly #cbor: Encoder;

  constructor(options: CodecOptions = {}) {
    this.#limits = resolveLimits(options.limits);
    this.#cbor = new Encoder({
      useRecords: false,
      structuredClone: false,
      mapsAsObjects: true,
      tagUint8Array: false,
    });
  }

  /** Encodes one value; throws `ProtocolError` for values that cannot be sent. */
  encode(value: unknown): Uint8Array {
    try {
      return this.#cbor.encode(value);
    } catch (e) {
      throw new ProtocolError(`cannot encode value: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Checks then decodes one CBOR item; throws `ProtocolError` for anything unexpected. */
  decode(bytes: Uint8Array): unknown {
    prescan(bytes, this.#limits);
    try {
      return this.#cbor.decode(bytes);
    } catch (e) {
      throw new ProtocolError(`cannot decode frame: ${(e as Error).message}`, { cause: e });
    }
  }
}

export { RemoteError };
