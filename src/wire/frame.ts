import { ProtocolError } from "../errors.ts";
import { DEFAULT_LIMITS } from "../limits.ts";

/** A tick: a frame of length 0. Do not write to it. */
export const TICK_FRAME: Uint8Array = new Uint8Array(4);

/** Largest body a u32 length prefix can describe. */
const MAX_U32 = 0xffffffff;

/**
 * Prefixes a body with its u32 big-endian length (one copy). Small frames are carved
 * out of a shared slab, since allocating an ArrayBuffer costs far more than the copy:
 * the result may share its `buffer` with other frames, so mind `byteOffset` and never
 * transfer or detach it.
 */
export function encodeFrame(body: Uint8Array): Uint8Array {
  const n = body.length;
  if (n > MAX_U32) throw new ProtocolError(`cannot frame ${n} bytes: over the u32 length prefix`);
  const size = n + 4;
  let out: Uint8Array;
  if (size > SLAB_BYTES / 8) out = new Uint8Array(size);
  else {
    if (slabUsed + size > SLAB_BYTES) {
      slab = new ArrayBuffer(SLAB_BYTES);
      slabUsed = 0;
    }
    out = new Uint8Array(slab, slabUsed, size);
    slabUsed += (size + 7) & ~7;
  }
  out[0] = n >>> 24;
  out[1] = (n >>> 16) & 0xff;
  out[2] = (n >>> 8) & 0xff;
  out[3] = n & 0xff;
  out.set(body, 4);
  return out;
}

const SLAB_BYTES = 64 * 1024;
let slab = new ArrayBuffer(0);
let slabUsed = SLAB_BYTES; // full: the first frame allocates it

/** Options for {@linkcode FrameReader}. */
export interface FrameReaderOptions {
  /** Largest body accepted; a longer length prefix throws before any allocation. */
  maxFrameBytes?: number;
}

const EMPTY = new Uint8Array(0);
/**
 * A partial body starts at four times the bytes of it already in hand (at least 64 KiB;
 * its declared size once that is at most twice as much) and grows fourfold, so the
 * memory held follows the bytes that actually arrived (at most 8×, or 64 KiB) and a
 * large frame is seldom copied into a bigger buffer.
 */
const FIRST_CAPACITY = 64 * 1024;
const GROWTH = 4;

/** What {@linkcode FrameReader.push} hands to its callback with each body. */
export type FrameCallback = (body: Uint8Array, owned: boolean) => void;

/**
 * Splits a byte stream into frame bodies. A tick is an empty body.
 *
 * Frames wholly inside a chunk are handed over as views into that chunk, with no copy;
 * decode (or copy) them before the chunk's buffer is reused. A frame split across chunks
 * is gathered into a buffer of its own (`owned` is true: nothing else refers to it), which
 * grows fourfold up to the declared length, so memory follows the bytes that actually
 * arrived and the copying stays linear. {@linkcode FrameReader.spare} lets a reader read
 * the rest of such a frame straight into that buffer.
 */
export class FrameReader {
  readonly #max: number;
  readonly #head = new Uint8Array(4);
  #headLen = 0;
  /** Declared length of the body being gathered; -1 while reading a length prefix. */
  #need = -1;
  #have = 0;
  #body: Uint8Array = EMPTY;
  /** Bytes not yet parsed because a previous `onFrame` threw. */
  #pending: Uint8Array | undefined;
  #failed: ProtocolError | undefined;

  constructor(options: FrameReaderOptions = {}) {
    this.#max = options.maxFrameBytes ?? DEFAULT_LIMITS.maxFrameBytes;
  }

  /** Bytes held for a frame that has not fully arrived (allocated, not declared). */
  get buffered(): number {
    return this.#headLen + this.#body.length + (this.#pending?.length ?? 0);
  }

  /**
   * Feeds bytes and calls `onFrame` for each complete frame body, in order. A length
   * prefix over `maxFrameBytes` throws `ProtocolError`, and so does every later call.
   * If `onFrame` throws, the error propagates and the bytes after that frame are kept
   * for the next call.
   */
  push(chunk: Uint8Array, onFrame: FrameCallback): void {
    if (this.#failed) throw this.#failed;
    if (this.#pending) {
      const all = new Uint8Array(this.#pending.length + chunk.length);
      all.set(this.#pending);
      all.set(chunk, this.#pending.length);
      this.#pending = undefined;
      chunk = all;
    }
    const n = chunk.length;
    let off = 0;
    try {
      while (off < n) {
        if (this.#need < 0) {
          if (this.#headLen === 0 && n - off >= 4) {
            const len = chunk[off]! * 0x1000000 +
              ((chunk[off + 1]! << 16) | (chunk[off + 2]! << 8) | chunk[off + 3]!);
            if (len > this.#max) throw this.#tooLong(len);
            off += 4;
            if (n - off >= len) {
              off += len;
              onFrame(chunk.subarray(off - len, off), false);
              continue;
            }
            this.#start(len, n - off);
          } else {
            this.#head[this.#headLen++] = chunk[off++]!;
            if (this.#headLen < 4) continue;
            this.#headLen = 0;
            const h = this.#head;
            const len = h[0]! * 0x1000000 + ((h[1]! << 16) | (h[2]! << 8) | h[3]!);
            if (len > this.#max) throw this.#tooLong(len);
            if (len === 0) {
              onFrame(EMPTY, false);
              continue;
            }
            this.#start(len, n - off);
          }
        }
        // Gathering a split body.
        const take = Math.min(this.#need - this.#have, n - off);
        if (this.#have + take > this.#body.length) this.#grow(this.#have + take);
        const body = this.#body;
        // Bytes read straight into the body (see spare) are already in place.
        if (
          off !== 0 || chunk.buffer !== body.buffer ||
          chunk.byteOffset !== body.byteOffset + this.#have
        ) body.set(chunk.subarray(off, off + take), this.#have);
        this.#have += take;
        off += take;
        if (this.#have === this.#need) {
          this.#need = -1;
          this.#have = 0;
          this.#body = EMPTY;
          onFrame(body, true);
        }
      }
    } catch (e) {
      // A copy: the caller may reuse its buffer (and Buffer#slice would not copy).
      if (!this.#failed && off < n) this.#pending = new Uint8Array(chunk.subarray(off));
      throw e;
    }
  }

  #tooLong(len: number): ProtocolError {
    this.#failed = new ProtocolError(
      `frame of ${len} bytes exceeds maxFrameBytes (${this.#max})`,
    );
    this.#headLen = 0;
    this.#need = -1;
    this.#body = EMPTY;
    return this.#failed;
  }

  /**
   * Where the next bytes of the stream may be read directly, when a large frame is being
   * gathered: the unfilled part of its buffer (grown first if full). Read into it and
   * `push` the view of what was read; `undefined` when nothing is being gathered.
   */
  spare(): Uint8Array | undefined {
    if (this.#need < 0 || this.#pending || this.#failed) return undefined;
    if (this.#have === this.#body.length) this.#grow(this.#have + 1);
    return this.#body.subarray(this.#have);
  }

  #start(len: number, inHand: number): void {
    this.#need = len;
    this.#have = 0;
    let size = Math.max(FIRST_CAPACITY, GROWTH * inHand);
    if (size * 2 >= len) size = len; // a frame a little over it would cost a copy of all
    this.#body = new Uint8Array(size);
  }

  #grow(atLeast: number): void {
    let size = Math.max(atLeast, this.#body.length * GROWTH);
    if (size * 2 >= this.#need) size = this.#need; // skip a step that could not suffice
    const body = new Uint8Array(size);
    body.set(this.#body.subarray(0, this.#have));
    this.#body = body;
  }
}

// Buffers for large frames, handed back by the TCP transport once written: a fresh
// 1 MiB buffer per message (page faults, scavenges for external memory) costs the
// sender more than encoding the message.
const POOL_MIN = 64 * 1024;
const POOL_MAX = 4 * 1024 * 1024;
const POOL_KEEP = 4;
const pool: ArrayBuffer[] = [];
const lent = new WeakSet<ArrayBuffer>();

/**
 * @internal A buffer for a large frame of `size` bytes (its own `buffer`, at offset 0),
 * reused from frames already written when possible. Whoever writes it to a socket hands
 * it back with {@linkcode recycleFrame}; a buffer never handed back is simply collected.
 */
export function frameBuffer(size: number): Uint8Array {
  if (size < POOL_MIN || size > POOL_MAX) return new Uint8Array(size);
  for (let i = pool.length - 1; i >= 0; i--) {
    const ab = pool[i]!;
    if (ab.byteLength >= size && ab.byteLength - size < size / 4 + POOL_MIN) {
      pool.splice(i, 1);
      lent.add(ab);
      return new Uint8Array(ab, 0, size);
    }
  }
  const ab = new ArrayBuffer(Math.ceil(size / POOL_MIN) * POOL_MIN);
  lent.add(ab);
  return new Uint8Array(ab, 0, size);
}

/**
 * @internal Hands back a frame from {@linkcode frameBuffer} once every byte of it has been
 * written and nothing refers to it any more; anything else is ignored.
 */
export function recycleFrame(frame: Uint8Array): void {
  const ab = frame.buffer as ArrayBuffer;
  if (frame.byteOffset !== 0 || !lent.has(ab)) return;
  lent.delete(ab);
  if (pool.length >= POOL_KEEP) pool.shift();
  pool.push(ab);
}
