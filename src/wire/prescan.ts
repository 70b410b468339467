import { ProtocolError } from "../errors.ts";
import type { Limits } from "../limits.ts";
import { TAGS } from "./tags.ts";

// What the next item must be (its slot in the enclosing container).
const ANY = 0;
const KEY = 1; // key of a plain object: text, not "__proto__"
const TEXT = 2;
const UINT = 3; // pid/ref numbers: uint up to 2^32-1, or a float holding a safe integer >= 0
const NUMBER = 4; // Date content: int up to 32 bits, or any float
const BYTES = 5;
const BYTES2 = 6; // byte string whose length is a multiple of 2
const BYTES4 = 7;
const BYTES8 = 8;
const SET_ARRAY = 9;
const MAP = 10; // Map content: a map whose keys may be anything
const ID_ARRAY = 11; // pid/ref content: [text, uint, uint]
const ERROR_MAP = 12;
const ERROR_KEY = 13;

// Open containers.
const C_ARRAY = 0;
const C_OBJECT = 1;
const C_MAP = 2;
const C_TAG = 3;
const C_ID = 4;
const C_ERROR = 5;

const SLOT_NAMES = [
  "any value",
  "a text map key",
  "a text string",
  "an unsigned integer",
  "a number",
  "a byte string",
  "a byte string of whole 2-byte elements",
  "a byte string of whole 4-byte elements",
  "a byte string of whole 8-byte elements",
  "an array (Set content)",
  "a map (Map content)",
  "an array of [text, uint, uint] (pid/ref content)",
  "a map of name, message, stack[, cause] (error content)",
  'one of the keys "name", "message", "stack", "cause"',
];

const MAJOR_NAMES = [
  "an unsigned integer",
  "a negative integer",
  "a byte string",
  "a text string",
  "an array",
  "a map",
  "a tag",
  "a simple value or float",
];

// Error-map keys, as bytes, and the bit each sets.
const ERROR_KEYS: ReadonlyArray<readonly [Uint8Array, number]> = [
  [new TextEncoder().encode("name"), 1],
  [new TextEncoder().encode("message"), 2],
  [new TextEncoder().encode("stack"), 4],
  [new TextEncoder().encode("cause"), 8],
];
const ERROR_CAUSE_BIT = 8;
const ERROR_REQUIRED = 7;

/** Slot kind of a tag's content, or -1 when the tag is not accepted. */
function tagContent(tag: number): number {
  switch (tag) {
    case 1:
      return NUMBER;
    case 2:
    case 3:
    case 68:
    case 72:
      return BYTES;
    case 69:
    case 77:
      return BYTES2;
    case 70:
    case 78:
    case 85:
      return BYTES4;
    case 71:
    case 79:
    case 86:
      return BYTES8;
    case 258:
      return SET_ARRAY;
    case 259:
      return MAP;
    case TAGS.pid:
    case TAGS.ref:
      return ID_ARRAY;
    case TAGS.error:
      return ERROR_MAP;
    default:
      return -1;
  }
}

// Scratch stacks, reused: prescan is synchronous and never re-entered.
let kinds = new Uint8Array(64);
let remaining = new Float64Array(64);
let aux = new Int32Array(64); // C_TAG: content slot; C_ERROR: slot of the pending value
let seen = new Uint8Array(64); // C_ERROR: keys seen

function grow(): void {
  const n = kinds.length * 2;
  const k = new Uint8Array(n);
  k.set(kinds);
  kinds = k;
  const r = new Float64Array(n);
  r.set(remaining);
  remaining = r;
  const a = new Int32Array(n);
  a.set(aux);
  aux = a;
  const s = new Uint8Array(n);
  s.set(seen);
  seen = s;
}

function bad(what: string, at: number): ProtocolError {
  return new ProtocolError(`bad frame: ${what} (at byte ${at})`);
}

function truncated(at: number): ProtocolError {
  return bad("truncated item", at);
}

function misplaced(major: number, slot: number, at: number): ProtocolError {
  return bad(`found ${MAJOR_NAMES[major]} where ${SLOT_NAMES[slot]} is required`, at);
}

function isProto(b: Uint8Array, p: number): boolean {
  // "__proto__"
  return b[p] === 0x5f && b[p + 1] === 0x5f && b[p + 2] === 0x70 && b[p + 3] === 0x72 &&
    b[p + 4] === 0x6f && b[p + 5] === 0x74 && b[p + 6] === 0x6f && b[p + 7] === 0x5f &&
    b[p + 8] === 0x5f;
}

function errorKeyBit(b: Uint8Array, p: number, len: number): number {
  outer: for (const [key, bit] of ERROR_KEYS) {
    if (key.length !== len) continue;
    for (let i = 0; i < len; i++) if (b[p + i] !== key[i]) continue outer;
    return bit;
  }
  return 0;
}

/** Options for {@linkcode prescan}: the limits it applies. */
export type PrescanLimits = Pick<Limits, "maxDepth" | "maxItems">;

/**
 * Checks that `bytes` hold exactly one well-formed CBOR item that Fusion's decoder
 * accepts, without recursion and without allocating per item: definite lengths only,
 * declared lengths within the bytes present, nesting within `maxDepth`, declared
 * elements and entries within `maxItems`, only the tags in `ACCEPTED_TAGS` with the
 * content each expects, text keys (never `"__proto__"`) for plain maps, and no trailing
 * bytes. Throws `ProtocolError` naming the first problem and its byte offset.
 */
export function prescan(bytes: Uint8Array, limits: PrescanLimits): void {
  const len = bytes.length;
  if (len === 0) throw bad("empty frame body", 0);
  const maxDepth = limits.maxDepth;
  const maxItems = limits.maxItems;
  let pos = 0;
  let sp = 0; // open containers
  let items = 0;
  let slot = ANY;

  for (;;) {
    if (pos >= len) throw truncated(pos);
    const at = pos;
    const ib = bytes[pos++]!;
    const major = ib >> 5;
    const ai = ib & 31;
    let arg = ai;
    if (ai >= 24) {
      if (ai === 24) {
        if (pos + 1 > len) throw truncated(at);
        arg = bytes[pos]!;
        pos += 1;
      } else if (ai === 25) {
        if (pos + 2 > len) throw truncated(at);
        arg = (bytes[pos]! << 8) | bytes[pos + 1]!;
        pos += 2;
      } else if (ai === 26) {
        if (pos + 4 > len) throw truncated(at);
        arg = bytes[pos]! * 0x1000000 +
          ((bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!);
        pos += 4;
      } else if (ai === 27) {
        if (pos + 8 > len) throw truncated(at);
        const hi = bytes[pos]! * 0x1000000 +
          ((bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!);
        const lo = bytes[pos + 4]! * 0x1000000 +
          ((bytes[pos + 5]! << 16) | (bytes[pos + 6]! << 8) | bytes[pos + 7]!);
        arg = hi * 0x100000000 + lo; // inexact above 2^53, which no length or tag reaches
        pos += 8;
      } else if (ai === 31) {
        if (major === 7) throw bad("break code outside an indefinite-length item", at);
        if (major >= 2 && major <= 5) {
          const what = ["byte string", "text string", "array", "map"][major - 2];
          throw bad(`indefinite-length ${what} (not accepted)`, at);
        }
        throw bad(`additional info 31 on ${MAJOR_NAMES[major]} (not well-formed)`, at);
      } else {
        throw bad(`reserved additional info ${ai}`, at);
      }
    }

    switch (major) {
      case 0:
      case 1:
        if (slot !== ANY) {
          if (ai === 27 || !(slot === NUMBER || (slot === UINT && major === 0))) {
            throw misplaced(major, slot, at);
          }
        }
        break;
      case 2:
        if (arg > len - pos) throw truncated(at);
        if (slot !== ANY && slot !== BYTES) {
          if (slot === BYTES2 || slot === BYTES4 || slot === BYTES8) {
            const size = slot === BYTES2 ? 2 : slot === BYTES4 ? 4 : 8;
            if (arg % size !== 0) {
              throw bad(
                `typed array of ${arg} bytes is not a whole number of ${size}-byte elements`,
                at,
              );
            }
          } else throw misplaced(major, slot, at);
        }
        pos += arg;
        break;
      case 3:
        if (arg > len - pos) throw truncated(at);
        if (slot !== ANY && slot !== TEXT) {
          if (slot === KEY) {
            if (arg === 9 && isProto(bytes, pos)) {
              throw bad('map key "__proto__" (not accepted)', at);
            }
          } else if (slot === ERROR_KEY) {
            const bit = errorKeyBit(bytes, pos, arg);
            if (bit === 0) throw misplaced(major, slot, at);
            if (seen[sp - 1]! & bit) throw bad("error content repeats a key", at);
            seen[sp - 1]! |= bit;
            aux[sp - 1] = bit === ERROR_CAUSE_BIT ? ANY : TEXT;
          } else throw misplaced(major, slot, at);
        }
        pos += arg;
        break;
      case 4: {
        let kind = C_ARRAY;
        if (slot !== ANY && slot !== SET_ARRAY) {
          if (slot !== ID_ARRAY) throw misplaced(major, slot, at);
          if (arg !== 3) throw bad(`pid/ref content has ${arg} elements, not 3`, at);
          kind = C_ID;
        }
        if (sp >= maxDepth) throw bad(`nesting deeper than maxDepth (${maxDepth})`, at);
        if (arg > len - pos) {
          throw bad(`array declares ${arg} elements but only ${len - pos} bytes follow`, at);
        }
        items += arg;
        if (items > maxItems) {
          throw bad(`more than maxItems (${maxItems}) elements and entries`, at);
        }
        if (arg === 0) break;
        if (sp === kinds.length) grow();
        kinds[sp] = kind;
        remaining[sp] = arg;
        sp++;
        slot = kind === C_ID ? TEXT : ANY;
        continue;
      }
      case 5: {
        let kind = C_OBJECT;
        if (slot !== ANY) {
          if (slot === MAP) kind = C_MAP;
          else if (slot === ERROR_MAP) {
            if (arg !== 3 && arg !== 4) {
              throw bad(`error content has ${arg} entries, not 3 or 4`, at);
            }
            kind = C_ERROR;
          } else throw misplaced(major, slot, at);
        }
        if (sp >= maxDepth) throw bad(`nesting deeper than maxDepth (${maxDepth})`, at);
        if (arg > (len - pos) / 2) {
          throw bad(`map declares ${arg} entries but only ${len - pos} bytes follow`, at);
        }
        items += arg;
        if (items > maxItems) {
          throw bad(`more than maxItems (${maxItems}) elements and entries`, at);
        }
        if (arg === 0) break;
        if (sp === kinds.length) grow();
        kinds[sp] = kind;
        remaining[sp] = arg * 2;
        seen[sp] = 0;
        sp++;
        slot = kind === C_OBJECT ? KEY : kind === C_ERROR ? ERROR_KEY : ANY;
        continue;
      }
      case 6: {
        if (slot !== ANY) throw misplaced(major, slot, at);
        const content = tagContent(arg);
        if (content < 0) throw bad(`CBOR tag ${arg} (not accepted)`, at);
        if (sp >= maxDepth) throw bad(`nesting deeper than maxDepth (${maxDepth})`, at);
        if (sp === kinds.length) grow();
        kinds[sp] = C_TAG;
        remaining[sp] = 1;
        aux[sp] = content;
        sp++;
        slot = content;
        continue;
      }
      default: // 7
        if (ai >= 25) { // float16/32/64 (27 and below; 28-31 were refused above)
          if (slot !== ANY && slot !== NUMBER) {
            if (slot !== UINT || ai === 25 || !isSafeUint(bytes, at + 1, ai)) {
              throw misplaced(major, slot, at);
            }
          }
        } else if (ai >= 20 && ai <= 23) { // false, true, null, undefined
          if (slot !== ANY) throw misplaced(major, slot, at);
        } else if (ai === 24) {
          throw bad(`two-byte simple value ${arg} (not accepted)`, at);
        } else {
          throw bad(`unassigned simple value ${ai}`, at);
        }
    }

    // One item is complete: close every container it completes.
    for (;;) {
      if (sp === 0) {
        if (pos !== len) throw bad(`${len - pos} trailing bytes after the item`, pos);
        return;
      }
      const top = sp - 1;
      const left = --remaining[top]!;
      if (left > 0) {
        switch (kinds[top]) {
          case C_OBJECT:
            slot = (left & 1) === 0 ? KEY : ANY;
            break;
          case C_ID:
            slot = UINT;
            break;
          case C_ERROR:
            slot = (left & 1) === 0 ? ERROR_KEY : aux[top]!;
            break;
          default: // C_ARRAY, C_MAP (C_TAG holds one item)
            slot = ANY;
        }
        break;
      }
      if (kinds[top] === C_ERROR && (seen[top]! & ERROR_REQUIRED) !== ERROR_REQUIRED) {
        throw bad('error content lacks one of "name", "message", "stack"', pos);
      }
      sp--;
    }
  }
}

function isSafeUint(bytes: Uint8Array, p: number, ai: number): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset + p, ai === 26 ? 4 : 8);
  const v = ai === 26 ? view.getFloat32(0) : view.getFloat64(0);
  return Number.isSafeInteger(v) && v >= 0;
}
