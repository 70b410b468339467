import { ProtocolError } from "../errors.ts";
import { DEFAULT_LIMITS } from "../limits.ts";

/** A tick: a frame of length 0. */
export const TICK_FRAME: Uint8Array = new Uint8Array(4);

/** Prefixes a body with its u32 big-endian length. */
export function encodeFrame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 4);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/** Options for {@linkcode FrameReader}. */
export interface FrameReaderOptions {
  /** Largest body accepted; a longer length prefix throws before any allocation. */
  maxFrameBytes?: number;
}

/** Splits a byte stream into frame bodies. A tick is an empty body. */
export class FrameReader {
  readonly #max: number;
  #buf: Uint8Array = new Uint8Array(0);

  constructor(options: FrameReaderOptions = {}) {
    this.#max = options.maxFrameBytes ?? DEFAULT_LIMITS.maxFrameBytes;
  }

  /** Feeds bytes and calls `onFrame` for each complete frame body. */
  push(chunk: Uint8Array, onFrame: (body: Uint8Array) => void): void {
    let buf = this.#buf.length ? concat(this.#buf, chunk) : chunk;
    let off = 0;
    while (buf.length - off >= 4) {
      const len = ((buf[off]! << 24) >>> 0) + (buf[off + 1]! << 16) + (buf[off + 2]! << 8) +
        buf[off + 3]!;
      if (len > this.#max) {
        throw new ProtocolError(`frame of ${len} bytes exceeds the limit of ${this.#max}`);
      }
      if (buf.length - off - 4 < len) break;
      onFrame(buf.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    buf = buf.subarray(off);
    this.#buf = buf.length ? buf.slice() : new Uint8Array(0);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
