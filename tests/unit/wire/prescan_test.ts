import assert from "node:assert/strict";
import { ProtocolError, RemoteError } from "../../../src/errors.ts";
import { ACCEPTED_TAGS, Codec, Pid } from "../../../src/wire/mod.ts";
import { fromHex } from "./_hex.ts";

const codec = new Codec();

/** Each bad body must be refused by the pre-scan (never by cbor-x) with a clear message. */
function refuses(name: string, hex: string | Uint8Array, message: RegExp, c = codec): void {
  Deno.test(`decode() refuses ${name}`, () => {
    const body = typeof hex === "string" ? fromHex(hex) : hex;
    assert.throws(() => c.decode(body), (e: unknown) => {
      assert.ok(e instanceof ProtocolError, `expected ProtocolError, got ${e}`);
      assert.match(e.message, /^bad frame: /);
      assert.match(e.message, message);
      return true;
    });
  });
}

function accepts(name: string, hex: string, expected: unknown): void {
  Deno.test(`decode() accepts ${name}`, () => {
    assert.deepEqual(codec.decode(fromHex(hex)), expected);
  });
}

const text = (s: string) => {
  const b = new TextEncoder().encode(s);
  if (b.length >= 24) throw new Error("short strings only");
  return [0x60 | b.length, ...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
};

// Well-formedness.
refuses("an empty body", "", /empty frame body/);
refuses("a truncated array", "82 01 19 01", /truncated item \(at byte 2\)/);
refuses(
  "an array longer than the bytes present",
  "82 01",
  /array declares 2 elements but only 1 bytes follow/,
);
refuses("a truncated length argument", "19 01", /truncated item \(at byte 0\)/);
refuses("a truncated 8-byte argument", "1b 00 00 00", /truncated item/);
refuses("a text string longer than the bytes present", "65 61 62", /truncated item/);
refuses("a byte string longer than the bytes present", "5a 00 01 00 00 00", /truncated item/);
refuses("reserved additional info 28", "1c", /reserved additional info 28/);
refuses("reserved additional info 29", "3d", /reserved additional info 29/);
refuses("reserved additional info 30", "fe", /reserved additional info 30/);
refuses("an indefinite-length array", "9f 01 ff", /indefinite-length array/);
refuses("an indefinite-length map", "bf 61 61 01 ff", /indefinite-length map/);
refuses("an indefinite-length byte string", "5f 41 00 ff", /indefinite-length byte string/);
refuses("an indefinite-length text string", "7f 61 61 ff", /indefinite-length text string/);
refuses("a break code outside an indefinite-length item", "ff", /break code outside/);
refuses("a break code inside a definite array", "82 01 ff", /break code outside/);
refuses("additional info 31 on an integer", "1f", /additional info 31 on an unsigned integer/);
refuses("additional info 31 on a tag", "df 01", /additional info 31 on a tag/);
refuses("trailing bytes after the item", "01 02", /1 trailing bytes after the item/);
refuses("two items in one frame", "a1 61 61 01 80", /1 trailing bytes/);
refuses("an unassigned simple value", "e0", /unassigned simple value 0/);
refuses("a two-byte simple value", "f8 14", /two-byte simple value 20/);
refuses("a two-byte simple value above 31", "f8 ff", /two-byte simple value 255/);

// Sizes: refused from the header, before anything is allocated.
refuses(
  "an array of 2^32 elements declared in a 10-byte frame",
  "9b 00 00 00 01 00 00 00 00 00",
  /array declares 4294967296 elements but only 1 bytes follow/,
);
refuses(
  "an array of 2^64-1 elements",
  "9b ff ff ff ff ff ff ff ff 00",
  /array declares \d+ elements/,
);
refuses(
  "a map of 2^31 entries in a tiny frame",
  "ba 80 00 00 00 61 61 01",
  /map declares 2147483648 entries but only 3 bytes follow/,
);
refuses(
  "a map whose entries cannot fit the bytes left",
  "a2 61 61 01",
  /map declares 2 entries but only 3 bytes follow/,
);
refuses(
  "more items than maxItems",
  "82 83 01 02 03 83 01 02 03",
  /more than maxItems \(7\)/,
  new Codec({ limits: { maxItems: 7 } }),
);
refuses(
  "nesting one level past maxDepth",
  "81".repeat(257) + "00",
  /nesting deeper than maxDepth \(256\) \(at byte 256\)/,
);
refuses(
  "a nesting bomb of 100k arrays",
  new Uint8Array(100_001).fill(0x81).fill(0, 100_000),
  /nesting deeper than maxDepth/,
);
refuses("a nesting bomb of maps", "a1 61 61 ".repeat(300) + "00", /nesting deeper than maxDepth/);
refuses(
  "a nesting bomb of tags",
  "c1 ".repeat(2) + "d9 01 02 81 ".repeat(200) + "00",
  /tag|nesting/,
);
refuses("empty containers past maxDepth", "81".repeat(256) + "80", /nesting deeper than maxDepth/);
Deno.test("decode() accepts nesting exactly at maxDepth", () => {
  let v: unknown = 0;
  for (let i = 0; i < 256; i++) v = [v];
  assert.deepEqual(codec.decode(fromHex("81".repeat(256) + "00")), v);
});

// Tags.
refuses(
  "tag 27 (generic object: would construct a global class)",
  `d8 1b 82 ${text("Error")} ${text("x")}`,
  /CBOR tag 27 \(not accepted\)/,
);
refuses("tag 28 (shareable value)", "d8 1c 80", /CBOR tag 28/);
refuses("tag 29 (shared reference)", "d8 1d 00", /CBOR tag 29/);
refuses("tag 105 (legacy record)", "d8 69 83 00 80 00", /CBOR tag 105/);
refuses("tag 51966 (0xcafe)", "d9 ca fe 00", /CBOR tag 51966/);
refuses("tag 57337 (bundled strings)", "d9 df f9 82 00 00", /CBOR tag 57337/);
refuses("tag 57342 (record definitions)", "d9 df fe 82 00 00", /CBOR tag 57342/);
refuses("tag 57343 (inline record)", "d9 df ff 83 19 e0 00 81 61 61 01", /CBOR tag 57343/);
refuses("tag 57344 (a record id)", "d9 e0 00 81 01", /CBOR tag 57344/);
refuses("tag 6 (packed reference)", "c6 00", /CBOR tag 6 /);
refuses("tag 51 (packed table)", "d8 33 84 80 80 80 00", /CBOR tag 51/);
refuses("tag 55799 (self-described CBOR)", "d9 d9 f7 00", /CBOR tag 55799/);
refuses("tag 0 (date string)", `c0 ${text("2020")}`, /CBOR tag 0 /);
refuses("tag 4 (decimal fraction)", "c4 82 01 02", /CBOR tag 4 /);
refuses("tag 64 (tagged Uint8Array, never written)", "d8 40 41 00", /CBOR tag 64/);
refuses("tag 65 (big-endian Uint16Array)", "d8 41 42 00 01", /CBOR tag 65/);
refuses("tag 225 (packed prefix)", "d8 e1 00", /CBOR tag 225/);
refuses(
  "tag 1 written as an 8-byte tag number over 32 bits",
  "db 00 00 00 01 00 00 00 01 00",
  /CBOR tag 4294967297/,
);
refuses("a tag as a plain map key", "a1 c1 00 00", /found a tag where a text map key is required/);

// Content shapes of accepted tags.
refuses(
  "a Date whose content is text",
  `c1 ${text("x")}`,
  /found a text string where a number is required/,
);
refuses(
  "a Date whose content is a 64-bit integer",
  "c1 1b 00 00 00 00 00 00 00 01",
  /an unsigned integer where a number is required/,
);
refuses("a bigint tag whose content is not bytes", "c2 01", /where a byte string is required/);
refuses(
  "a Set whose content is a map",
  "d9 01 02 a0",
  /found a map where an array \(Set content\) is required/,
);
refuses(
  "a Map whose content is an array",
  "d9 01 03 80",
  /found an array where a map \(Map content\) is required/,
);
refuses(
  "a Map whose content is another Map tag",
  "d9 01 03 d9 01 03 a0",
  /found a tag where a map/,
);
refuses(
  "a Float64Array of 7 bytes",
  "d8 56 47 00 00 00 00 00 00 00",
  /typed array of 7 bytes is not a whole number of 8-byte elements/,
);
refuses("a Uint16Array of 3 bytes", "d8 45 43 00 00 00", /2-byte elements/);
refuses(
  "a Float32Array whose content is text",
  `d8 55 ${text("abcd")}`,
  /where a byte string of whole 4-byte elements/,
);
refuses("a pid whose content is not an array", "d9 9c 41 01", /pid\/ref content/);
refuses(
  "a pid of two elements",
  `d9 9c 41 82 ${text("a")} 01`,
  /pid\/ref content has 2 elements, not 3/,
);
refuses(
  "a pid whose node is not text",
  "d9 9c 41 83 01 01 01",
  /found an unsigned integer where a text string is required/,
);
refuses(
  "a pid with a negative id",
  `d9 9c 41 83 ${text("a")} 20 01`,
  /negative integer where an unsigned integer is required/,
);
refuses(
  "a pid with a 64-bit id (would decode as bigint)",
  `d9 9c 41 83 ${text("a")} 1b 00 00 00 00 00 00 00 01 01`,
  /unsigned integer where an unsigned integer/,
);
refuses(
  "a pid with a fractional id",
  `d9 9c 41 83 ${text("a")} fb 3f f8 00 00 00 00 00 00 01`,
  /simple value or float where an unsigned integer/,
);
refuses(
  "a pid with a float16 id",
  `d9 9c 41 83 ${text("a")} f9 3c 00 01`,
  /where an unsigned integer/,
);
refuses(
  "a pid with an array as creation",
  `d9 9c 41 83 ${text("a")} 01 80`,
  /found an array where an unsigned integer/,
);
refuses("a ref with a null id", `d9 9c 42 83 ${text("a")} f6 01`, /where an unsigned integer/);
Deno.test("decode() accepts a pid whose id is a float holding a whole number", () => {
  const got = codec.decode(fromHex(`d9 9c 41 83 ${text("a")} fb 41 f0 00 00 00 00 00 00 01`));
  assert.ok(got instanceof Pid);
  assert.equal(got.id, 2 ** 32);
});

const errorMap = (entries: string[]) => `d9 9c 43 a${entries.length} ${entries.join(" ")}`;
const nameE = `${text("name")} ${text("Error")}`;
const messageE = `${text("message")} ${text("m")}`;
const stackE = `${text("stack")} ${text("")}`;
Deno.test("decode() accepts an error with name, message and stack in any order", () => {
  const e = codec.decode(fromHex(errorMap([stackE, nameE, messageE])));
  assert.ok(e instanceof RemoteError);
  assert.equal(e.remoteName, "Error");
  assert.equal(e.message, "Error: m");
  assert.equal(e.remoteStack, "");
});
refuses(
  "an error missing its stack",
  errorMap([nameE, messageE, `${text("cause")} 01`]),
  /lacks one of "name", "message", "stack"/,
);
refuses(
  "an error with two entries",
  errorMap([nameE, messageE]),
  /error content has 2 entries, not 3 or 4/,
);
refuses(
  "an error with an unknown key",
  errorMap([nameE, messageE, stackE, `${text("code")} 01`]),
  /one of the keys "name"/,
);
refuses(
  "an error that repeats a key",
  errorMap([nameE, messageE, nameE]),
  /error content repeats a key/,
);
refuses(
  "an error whose name is a number",
  errorMap([`${text("name")} 01`, messageE, stackE]),
  /unsigned integer where a text string is required/,
);
refuses(
  "an error whose content is an array",
  "d9 9c 43 83 01 02 03",
  /found an array where a map of name, message, stack/,
);
refuses(
  "an error with an integer key",
  errorMap([nameE, messageE, "01 01"]),
  /found an unsigned integer where one of the keys/,
);

// Map keys.
refuses(
  'a "__proto__" key in a plain map',
  `a1 ${text("__proto__")} a1 ${text("x")} 01`,
  /map key "__proto__" \(not accepted\)/,
);
refuses(
  'a "__proto__" key in a nested plain map',
  `a1 ${text("a")} a1 ${text("__proto__")} 01`,
  /"__proto__"/,
);
refuses(
  "an integer key in a plain map",
  "a1 01 02",
  /found an unsigned integer where a text map key is required/,
);
refuses("an array key in a plain map", "a1 80 02", /found an array where a text map key/);
refuses("a null key in a plain map", "a1 f6 02", /simple value or float where a text map key/);
refuses("a bytes key in a plain map", "a1 41 00 02", /byte string where a text map key/);
Deno.test('decode() accepts a "__proto__" key inside a Map and pollutes nothing', () => {
  const m = codec.decode(fromHex(`d9 01 03 a1 ${text("__proto__")} a1 ${text("polluted")} f5`));
  assert.ok(m instanceof Map);
  assert.deepEqual(m.get("__proto__"), { polluted: true });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});
accepts(
  "non-text keys inside a Map",
  "d9 01 03 a2 01 02 80 03",
  new Map<unknown, unknown>([[1, 2], [[], 3]]),
);
accepts(
  "a plain map nested as a Map key",
  `d9 01 03 a1 a1 ${text("k")} 01 02`,
  new Map([[{ k: 1 }, 2]]),
);

// Values that are well-formed but unusual still decode.
accepts("a non-minimal length", "b8 01 61 61 19 00 05", { a: 5 });
accepts("a float16", "f9 3c 00", 1);
accepts("a float32", "fa 3f c0 00 00", 1.5);
accepts("a 64-bit integer (as bigint)", "1b 00 00 00 00 00 00 00 05", 5n);
accepts("a 64-bit negative integer (as bigint)", "3b ff ff ff ff ff ff ff ff", -(2n ** 64n));
accepts("invalid UTF-8 (replaced with U+FFFD)", "62 c3 28", "\ufffd(");
accepts("an epoch Date as a negative integer", "c1 20", new Date(-1000));
accepts(
  "an epoch Date far out of range (an Invalid Date)",
  "c1 fb 7f ef ff ff ff ff ff ff",
  new Date(NaN),
);
accepts("an empty bigint tag", "c2 40", 0n);
accepts("a negative bigint tag", "c3 41 00", -1n);

Deno.test("decode() refuses exactly the tags missing from ACCEPTED_TAGS", () => {
  const tagged = (tag: number) => {
    const head = tag < 24
      ? [0xc0 | tag]
      : tag < 256
      ? [0xd8, tag]
      : tag < 65536
      ? [0xd9, tag >> 8, tag & 255]
      : [0xda, tag >>> 24, (tag >> 16) & 255, (tag >> 8) & 255, tag & 255];
    return new Uint8Array([...head, 0x00]);
  };
  for (let tag = 0; tag < 70_000; tag++) {
    let message = "";
    try {
      codec.decode(tagged(tag));
    } catch (e) {
      assert.ok(e instanceof ProtocolError);
      message = e.message;
    }
    const refusedTag = message.includes(`CBOR tag ${tag} (not accepted)`);
    assert.equal(refusedTag, !ACCEPTED_TAGS.has(tag), `tag ${tag}: ${message}`);
  }
});
