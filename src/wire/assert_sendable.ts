import { Tag } from "cbor-x";
import { ProtocolError } from "../errors.ts";
import { DEFAULT_LIMITS, type Limits } from "../limits.ts";
import { Pid } from "./pid.ts";
import { Ref } from "./ref.ts";

/** Options for {@linkcode assertSendable}. */
export interface SendableOptions {
  /** Limits the receiver applies; `maxDepth` and `maxItems` are checked here. */
  limits?: Partial<Pick<Limits, "maxDepth" | "maxItems">>;
  /** Name of the value in error messages; default `"msg"`. */
  root?: string;
}

/**
 * Throws `ProtocolError` unless `value` can cross the wire and come back as the same
 * kind of value: no functions or symbols anywhere (also as Map keys and values), no
 * cycles, nesting within `maxDepth` and at most `maxItems` elements and entries (counted
 * as the encoder lays them out), and nothing the encoder would turn into a tag Fusion
 * does not accept (RegExp, iterables other than Array/Map/Set/typed arrays, Promise, ...).
 * The message names the path, e.g. `cannot send a function at msg.handler`.
 */
export function assertSendable(value: unknown, options: SendableOptions = {}): void {
  checkSendable(value, {
    maxDepth: options.limits?.maxDepth ?? DEFAULT_LIMITS.maxDepth,
    maxItems: options.limits?.maxItems ?? DEFAULT_LIMITS.maxItems,
    root: options.root ?? "msg",
  });
}

/** Largest bigint magnitude, in bits, that `assertSendable` lets through. */
export const MAX_BIGINT_BITS = 65536;

// Walk state. The fast pass only answers "fine or not"; when not, a slow pass walks
// again keeping a path and the open objects, to name the problem and where it is.
let maxDepth = 0;
let budget = 0;
let slow = false;
let path: string[] = [];
let open: Map<object, number> = new Map();
let root = "msg";
let large = 0;

/**
 * Byte strings (`Uint8Array`, `ArrayBuffer`) from this size up are "large": the codec
 * writes them straight into the frame rather than through cbor-x (see `Codec`).
 */
export const LARGE_BYTES = 64 * 1024;

/** What {@linkcode checkSendable} checks against. */
export interface SendableCheck {
  /** Deepest nesting allowed, counted as the receiver's pre-scan counts it. */
  maxDepth: number;
  /** Most array elements and map entries allowed. */
  maxItems: number;
  /** Name of the value in error messages; default `"msg"`. */
  root?: string;
}

/**
 * @internal {@linkcode assertSendable} with limits resolved (a Codec passes its own).
 * Returns how many byte strings of at least {@linkcode LARGE_BYTES} the value holds.
 */
export function checkSendable(value: unknown, check: SendableCheck): number {
  maxDepth = check.maxDepth;
  large = 0;
  budget = check.maxItems;
  slow = false;
  let ok: boolean;
  try {
    ok = walk(value, 0);
  } catch (e) {
    throw wrap(e);
  }
  if (ok) return large;
  slow = true;
  path = [];
  open = new Map();
  root = check.root ?? "msg";
  budget = check.maxItems;
  try {
    walk(value, 0);
  } catch (e) {
    throw wrap(e);
  } finally {
    path = [];
    open = new Map();
    slow = false;
  }
  throw new ProtocolError(`cannot send ${root}: it changed while being checked`);
}

function wrap(e: unknown): ProtocolError {
  if (e instanceof ProtocolError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new ProtocolError(`cannot send value: ${message}`, { cause: e });
}

function here(): string {
  return root + pathText(path);
}

function pathText(segs: string[]): string {
  if (segs.length <= 16) return segs.join("");
  const skipped = segs.length - 12;
  return `${segs.slice(0, 6).join("")}…(${skipped} more)…${segs.slice(-6).join("")}`;
}

/** Fails: returns false in the fast pass, throws with the path in the slow one. */
function fail(what: string): false {
  if (slow) throw new ProtocolError(`cannot send ${what} at ${here()}`);
  return false;
}

function deep(levels: number): false {
  return fail(`a value nested deeper than maxDepth (${maxDepth}; this needs ${levels})`);
}

function many(): false {
  return fail("more elements and entries than maxItems allows");
}

const IDENT = /^[A-Za-z_$][\w$]*$/;

function keySegment(key: string): string {
  return IDENT.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function mapKeyText(key: unknown, i: number): string {
  if (typeof key === "string") return JSON.stringify(key);
  if (typeof key === "number" || typeof key === "boolean" || key == null) return String(key);
  if (typeof key === "bigint") return `${key}n`;
  return `<key #${i}>`;
}

function enter(obj: object): boolean {
  const at = open.get(obj);
  if (at !== undefined) {
    throw new ProtocolError(
      `cannot send a cycle: ${here()} refers back to ${root}${pathText(path.slice(0, at))}`,
    );
  }
  open.set(obj, path.length);
  return true;
}

/** Is `v` (nested `depth` containers deep) sendable? Mirrors cbor-x's encode dispatch. */
function walk(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case "string":
    case "number":
    case "boolean":
    case "undefined":
      return true;
    case "bigint": // beyond 64 bits cbor-x writes a tag around the bytes
      if (v >= 0x10000000000000000n || v <= -0x10000000000000000n) {
        if (depth >= maxDepth) return deep(depth + 1);
        // cbor-x writes bignums one byte-shift at a time: quadratic in their size.
        if ((v < 0n ? -v : v) >> BigInt(MAX_BIGINT_BITS) !== 0n) {
          return fail(`a bigint of more than ${MAX_BIGINT_BITS} bits`);
        }
      }
      return true;
    case "function":
      return fail("a function");
    case "symbol":
      return fail("a symbol");
  }
  if (v === null) return true;
  const obj = v as Record<string, unknown>;
  const ctor = obj.constructor;
  if (ctor === Object) return walkObject(obj, depth);
  if (ctor === Array) {
    const arr = v as unknown[];
    if (depth >= maxDepth) return deep(depth + 1);
    const n = arr.length;
    if ((budget -= n) < 0) return many();
    if (slow) enter(arr);
    for (let i = 0; i < n; i++) {
      if (slow) path.push(`[${i}]`);
      if (!walk(arr[i], depth + 1)) return false;
      if (slow) path.pop();
    }
    if (slow) open.delete(arr);
    return true;
  }
  if (ctor === Map) return walkMap(v as Map<unknown, unknown>, depth);
  // cbor-x tries its extensions in this order (ours were added first).
  if (v instanceof Error) return walkError(v, depth);
  if (v instanceof Pid || v instanceof Ref) {
    if (depth + 2 > maxDepth) return deep(depth + 2);
    if ((budget -= 3) < 0) return many();
    if (
      typeof v.node !== "string" || !isUint(v.id) || !isUint(v.creation)
    ) return fail(`a malformed ${v instanceof Pid ? "Pid" : "Ref"}`);
    return true;
  }
  if (v instanceof Date) return depth + 1 > maxDepth ? deep(depth + 1) : true;
  if (v instanceof Set) return walkSet(v, depth);
  if (v instanceof RegExp) return fail("a RegExp (send its source and flags)");
  if (v instanceof Tag) return fail("a raw CBOR Tag");
  if (v instanceof ArrayBuffer || v instanceof Uint8Array) {
    if (v.byteLength >= LARGE_BYTES) large++;
    return true;
  }
  if (ArrayBuffer.isView(v)) {
    if (v instanceof DataView) return true;
    if (TYPED.some((T) => v instanceof T)) return depth + 1 > maxDepth ? deep(depth + 1) : true;
    return fail(`a ${ctorName(v)} (not supported on the wire)`);
  }
  if (Symbol.iterator in obj) {
    return fail(`an iterable ${ctorName(obj)} (convert it to an Array first)`);
  }
  if (Symbol.asyncIterator in obj || v instanceof Blob) return fail(`a ${ctorName(obj)}`);
  if (v instanceof Promise) return fail("a Promise (await it first)");
  if (v instanceof WeakMap || v instanceof WeakSet || v instanceof WeakRef) {
    return fail(`a ${ctorName(obj)}`);
  }
  return walkObject(obj, depth); // any other object goes as its own enumerable properties
}

const TYPED = [
  Uint8ClampedArray,
  Uint16Array,
  Uint32Array,
  BigUint64Array,
  Int8Array,
  Int16Array,
  Int32Array,
  BigInt64Array,
  Float32Array,
  Float64Array,
];

function ctorName(v: object): string {
  const c = (v as { constructor?: { name?: unknown } }).constructor;
  if (typeof c?.name === "string" && c.name !== "") return c.name;
  return Object.prototype.toString.call(v).slice(8, -1); // e.g. "Generator"
}

function isUint(n: unknown): boolean {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

function walkObject(obj: Record<string, unknown>, depth: number): boolean {
  if (depth >= maxDepth) return deep(depth + 1);
  const keys = Object.keys(obj);
  const n = keys.length;
  if ((budget -= n) < 0) return many();
  if (slow) enter(obj);
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    if (slow) path.push(keySegment(k));
    if (k === "__proto__") return fail('a "__proto__" key');
    if (!walk(obj[k], depth + 1)) return false;
    if (slow) path.pop();
  }
  if (slow) open.delete(obj);
  return true;
}

function walkMap(map: Map<unknown, unknown>, depth: number): boolean {
  if (depth + 2 > maxDepth) return deep(depth + 2); // tag 259 around a map
  if ((budget -= map.size) < 0) return many();
  if (slow) enter(map);
  let i = 0;
  for (const [k, val] of map) {
    if (slow) path.push(`.keys()[${i}]`);
    if (!walk(k, depth + 2)) return false;
    if (slow) path[path.length - 1] = `.get(${mapKeyText(k, i)})`;
    if (!walk(val, depth + 2)) return false;
    if (slow) path.pop();
    i++;
  }
  if (slow) open.delete(map);
  return true;
}

function walkSet(set: Set<unknown>, depth: number): boolean {
  if (depth + 2 > maxDepth) return deep(depth + 2); // tag 258 around an array
  if ((budget -= set.size) < 0) return many();
  if (slow) enter(set);
  let i = 0;
  for (const el of set) {
    if (slow) path.push(`.values()[${i}]`);
    if (!walk(el, depth + 2)) return false;
    if (slow) path.pop();
    i++;
  }
  if (slow) open.delete(set);
  return true;
}

function walkError(e: Error, depth: number): boolean {
  if (depth + 2 > maxDepth) return deep(depth + 2); // our error tag around a map
  const cause = e.cause;
  if ((budget -= cause === undefined ? 3 : 4) < 0) return many();
  if (cause === undefined) return true;
  if (slow) {
    enter(e);
    path.push(".cause");
  }
  if (!walk(cause, depth + 2)) return false;
  if (slow) {
    path.pop();
    open.delete(e);
  }
  return true;
}
