/**
 * Seeded input generators for the fuzz tests: JS values of every kind
 * the wire carries (and some it does not), random CBOR, and byte mutations.
 * Every run with the same seed sees the same inputs.
 * @module
 */
import { ProtocolError } from "../../src/errors.ts";
import { Pid } from "../../src/wire/pid.ts";
import { Ref } from "../../src/wire/ref.ts";

/** A small seeded PRNG (mulberry32) with helpers. */
export class Rng {
  #a: number;
  constructor(seed: number) {
    this.#a = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.#a = (this.#a + 0x6d2b79f5) >>> 0;
    let t = this.#a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** One element of a non-empty array. */
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  /** n random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

/** Counts what a fuzz run did; `crashes` keeps the first few failures for the report. */
export class Tally {
  inputs = 0;
  accepted = 0;
  refused = 0;
  crashCount = 0;
  readonly crashes: string[] = [];
  crash(what: string): void {
    this.crashCount++;
    if (this.crashes.length < 10) this.crashes.push(what);
  }
  /** A one-line summary. */
  toString(): string {
    return `${this.inputs} inputs: ${this.accepted} accepted, ${this.refused} refused, ${this.crashCount} crashes`;
  }
}

/** Whether `e` is the typed error an entry point may answer bad input with. */
export function isTypedRefusal(e: unknown): e is ProtocolError {
  return e instanceof ProtocolError;
}

/** Describes an unexpected error in one line. */
export function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`.slice(0, 300);
  return `non-error thrown: ${String(e)}`.slice(0, 300);
}

const NAMES = [
  "a@localhost",
  "b@localhost",
  "hub@localhost",
  "web01-1a2b@localhost",
  "",
  "x",
  "@",
  "a@",
  "__proto__",
  "constructor",
  "é@ü",
  "a".repeat(256),
  "a@b@c",
  "\u0000",
  "\ud800",
];

const STRINGS = [
  "",
  "hello",
  "prove",
  "lookup",
  "register",
  "names",
  "challenge",
  "hello",
  "proof",
  "ack",
  "refuse",
  "cookie",
  "ticket",
  "ok",
  "error",
  "__proto__",
  "prototype",
  "toString",
  "name",
  "message",
  "stack",
  "cause",
  "normal",
  "kill",
  "killed",
  "noproc",
  "run",
  "runFun",
  "spawn",
  "code.store",
  "ping",
  "\ud800\udc00",
  "\ud800",
  "x".repeat(300),
];

const NUMBERS = [
  0,
  1,
  -1,
  2,
  7,
  10,
  11,
  12,
  23,
  24,
  255,
  256,
  65535,
  65536,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  -(2 ** 53),
  0.5,
  -0,
  NaN,
  Infinity,
  -Infinity,
  1e300,
  Number.MIN_VALUE,
];

/** A random JS value: primitives, wire classes, containers, and things that cannot be sent. */
export function randomValue(rng: Rng, depth = 0, extra: readonly unknown[] = []): unknown {
  const leafOnly = depth >= 4;
  switch (rng.int(leafOnly ? 12 : 17)) {
    case 0:
      return rng.pick(NUMBERS);
    case 1:
      return rng.int(2) ? rng.int(1 << 30) - (1 << 29) : (rng.next() - 0.5) * 10 ** rng.int(20);
    case 2:
      return rng.pick(STRINGS);
    case 3:
      return rng.pick(NAMES);
    case 4:
      return rng.pick([true, false, null, undefined]);
    case 5:
      return rng.bytes(rng.chance(0.5) ? 32 : rng.int(70));
    case 6:
      return new Pid(rng.pick(NAMES), rng.pick(NUMBERS), rng.pick(NUMBERS));
    case 7:
      return new Ref(rng.pick(NAMES), rng.pick(NUMBERS), rng.pick(NUMBERS));
    case 8:
      return rng.chance(0.5) ? BigInt(rng.int(1000)) - 500n : (1n << BigInt(rng.int(200))) * -1n;
    case 9:
      return rng.chance(0.5) ? new Date(rng.int(2 ** 31) * 1000) : new Date(NaN);
    case 10:
      return extra.length ? rng.pick(extra) : rng.pick(NUMBERS);
    case 11:
      return rng.pick([
        () => 1,
        Symbol("s"),
        new Error("boom"),
        new TypeError("bad"),
        /re/g,
        new Uint16Array([1, 2]),
        new Float64Array([NaN]),
        new Int8Array(3),
      ]);
    case 12:
    case 13:
      return Array.from({ length: rng.int(6) }, () => randomValue(rng, depth + 1, extra));
    case 14: {
      const o: Record<string, unknown> = {};
      for (let i = rng.int(5); i > 0; i--) {
        // Own properties, even "__proto__", as a decoder that trusted its input would make.
        Object.defineProperty(o, rng.pick(STRINGS), {
          value: randomValue(rng, depth + 1, extra),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return o;
    }
    case 15:
      return new Map(
        Array.from(
          { length: rng.int(4) },
          () => [randomValue(rng, depth + 1, extra), randomValue(rng, depth + 1, extra)],
        ),
      );
    default:
      return new Set(Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1, extra)));
  }
}

/** Bytes that mean something to a CBOR decoder: heads, breaks, reserved values. */
export const INTERESTING_BYTES = [
  0x00,
  0x17,
  0x18,
  0x19,
  0x1a,
  0x1b,
  0x1c,
  0x1f,
  0x20,
  0x38,
  0x3b,
  0x40,
  0x58,
  0x5a,
  0x5b,
  0x5f,
  0x60,
  0x78,
  0x7b,
  0x7f,
  0x80,
  0x81,
  0x9a,
  0x9b,
  0x9f,
  0xa0,
  0xa1,
  0xba,
  0xbb,
  0xbf,
  0xc0,
  0xc1,
  0xc2,
  0xc3,
  0xc6,
  0xd8,
  0xd9,
  0xda,
  0xdb,
  0xdf,
  0xf4,
  0xf5,
  0xf6,
  0xf7,
  0xf8,
  0xf9,
  0xfa,
  0xfb,
  0xfc,
  0xff,
];

// Sequences that trip decoders trusting their input: cbor-x extensions, huge counts, tags.
const SNIPPETS: readonly number[][] = [
  [0xd8, 0x1b],
  [0xd8, 0x1c],
  [0xd8, 0x1d, 0x00],
  [0xd9, 0xdf, 0xff],
  [0xd9, 0xdf, 0xfe],
  [0xd9, 0xdf, 0xf9],
  [0xd9, 0xe0, 0x00],
  [0xd8, 0x69],
  [0xd8, 0x33],
  [0xd9, 0x01, 0x03],
  [0xd9, 0x01, 0x02],
  [0xd9, 0x9c, 0x41],
  [0xd9, 0x9c, 0x42],
  [0xd9, 0x9c, 0x43],
  [0xd8, 0x56],
  [0xc2],
  [0xc1],
  [0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0x9a, 0xff, 0xff, 0xff, 0xff],
  [0xba, 0x7f, 0xff, 0xff, 0xff],
  [0x5a, 0xff, 0xff, 0xff, 0xff],
  [0x7a, 0x00, 0x10, 0x00, 0x00],
  [0x69, 0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f],
  [0x9f],
  [0xbf],
  [0xff],
  [0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81],
];

/** Applies 1-4 random byte-level mutations. */
export function mutate(rng: Rng, input: Uint8Array): Uint8Array {
  let b = Array.from(input);
  for (let r = 1 + rng.int(4); r > 0; r--) {
    const at = rng.int(b.length + 1);
    switch (rng.int(9)) {
      case 0:
        if (b.length) b[at % b.length]! ^= 1 << rng.int(8);
        break;
      case 1:
        if (b.length) b[at % b.length] = rng.int(256);
        break;
      case 2:
        if (b.length) b[at % b.length] = rng.pick(INTERESTING_BYTES);
        break;
      case 3:
        b.splice(at, 0, ...rng.bytes(1 + rng.int(4)));
        break;
      case 4:
        b.splice(at, 1 + rng.int(8));
        break;
      case 5:
        b = b.slice(0, at);
        break;
      case 6: {
        const from = rng.int(b.length + 1);
        b.splice(at, 0, ...b.slice(from, from + 1 + rng.int(16)));
        break;
      }
      case 7:
        // A nesting run: deep arrays or maps where a value was.
        b.splice(at, 0, ...new Array(1 + rng.int(400)).fill(rng.pick([0x81, 0xa1, 0x9f])));
        break;
      default:
        b.splice(at, 0, ...rng.pick(SNIPPETS));
    }
  }
  return new Uint8Array(b);
}

/** Random CBOR built from heads and tags, valid or not. */
export function randomCbor(rng: Rng, out: number[] = [], depth = 0): number[] {
  const head = (major: number, n: number) => {
    if (n < 24) out.push((major << 5) | n);
    else if (n < 256) out.push((major << 5) | 24, n);
    else out.push((major << 5) | 25, n >> 8, n & 255);
  };
  const tags = [1, 2, 3, 27, 28, 29, 64, 68, 69, 72, 86, 258, 259, 40001, 40002, 40003, 57343];
  switch (depth > 3 ? rng.int(4) : rng.int(9)) {
    case 0:
      head(rng.int(2), rng.int(300));
      break;
    case 1: {
      const n = rng.int(10);
      head(2 + rng.int(2), n);
      for (let i = 0; i < n; i++) out.push(rng.chance(0.5) ? 0x61 : rng.int(256));
      break;
    }
    case 2:
      out.push(rng.pick([0xf4, 0xf5, 0xf6, 0xf7, 0xf9, 0xfb, 0xff]));
      break;
    case 3: {
      const k = new TextEncoder().encode(rng.pick(STRINGS));
      head(3, k.length);
      out.push(...k);
      break;
    }
    case 4:
    case 5: {
      const n = rng.int(5);
      head(4, n);
      for (let i = 0; i < n; i++) randomCbor(rng, out, depth + 1);
      break;
    }
    case 6: {
      const n = rng.int(4);
      head(5, n);
      for (let i = 0; i < 2 * n; i++) randomCbor(rng, out, depth + 1);
      break;
    }
    default: {
      const tag = rng.pick(tags);
      if (tag < 24) out.push(0xc0 | tag);
      else if (tag < 256) out.push(0xd8, tag);
      else out.push(0xd9, tag >> 8, tag & 255);
      randomCbor(rng, out, depth + 1);
    }
  }
  return out;
}

/** A u32 big-endian length prefix followed by `body`. */
export function frameOf(body: Uint8Array, length = body.length): Uint8Array {
  const out = new Uint8Array(body.length + 4);
  new DataView(out.buffer).setUint32(0, length >>> 0);
  out.set(body, 4);
  return out;
}

/** Joins byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Cuts `bytes` into random chunks (1 byte up to all of it). */
export function chunksOf(rng: Rng, bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < bytes.length;) {
    const n = 1 + rng.int(rng.chance(0.3) ? 8 : bytes.length);
    out.push(bytes.subarray(off, off + n));
    off += n;
  }
  return out;
}
