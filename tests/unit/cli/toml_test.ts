import assert from "node:assert/strict";
import { parseToml, TomlError } from "../../../src/cli/toml.ts";

Deno.test("parseToml reads tables, dotted and quoted keys, and arrays of tables", () => {
  const doc = parseToml(`
# comment
title = "fleet" # trailing comment
[defaults]
user = "deploy"

[hosts.web-01]
host = "10.0.1.5"
port = 2_222

[hosts."10.0.0.9"]
port = 22

[a]
b.c = 1
"d.e" = 2

[[jobs]]
name = "one"
[[jobs]]
name = "two"
[jobs.extra]
x = true
`);
  assert.deepEqual(doc, {
    title: "fleet",
    defaults: { user: "deploy" },
    hosts: { "web-01": { host: "10.0.1.5", port: 2222 }, "10.0.0.9": { port: 22 } },
    a: { b: { c: 1 }, "d.e": 2 },
    jobs: [{ name: "one" }, { name: "two", extra: { x: true } }],
  });
});

Deno.test("parseToml reads every string form with escapes", () => {
  const doc = parseToml([
    String.raw`basic = "tab\there \"q\" \u00e9 \U0001F600 back\\slash"`,
    String.raw`literal = 'C:\path\no escapes'`,
    'multi = """',
    "line one",
    'line "two"""""',
    'trimmed = """a \\',
    '    b"""',
    "lit = '''",
    "raw \\n text'''",
  ].join("\n"));
  assert.deepEqual(doc, {
    basic: 'tab\there "q" é 😀 back\\slash',
    literal: "C:\\path\\no escapes",
    multi: 'line one\nline "two""',
    trimmed: "a b",
    lit: "raw \\n text",
  });
});

Deno.test("parseToml reads numbers, booleans, arrays and inline tables", () => {
  const doc = parseToml(`
ints = [1, +2, -3, 0x1F, 0o17, 0b101]
floats = [1.5, -0.25, 1e3, 2.5E-1, inf, -inf]
flags = [true, false]
nested = [[1, 2], ["a", 'b'], ]
multi = [
  "x", # comment
  "y",
]
inline = { user = "u", port = 22, deep = { k = "v" } }
empty = {}
`);
  assert.deepEqual(doc.ints, [1, 2, -3, 31, 15, 5]);
  assert.deepEqual(doc.floats, [1.5, -0.25, 1000, 0.25, Infinity, -Infinity]);
  assert.deepEqual(doc.flags, [true, false]);
  assert.deepEqual(doc.nested, [[1, 2], ["a", "b"]]);
  assert.deepEqual(doc.multi, ["x", "y"]);
  assert.deepEqual(doc.inline, { user: "u", port: 22, deep: { k: "v" } });
  assert.deepEqual(doc.empty, {});
});

Deno.test("parseToml names the line of each mistake", () => {
  const cases: [string, RegExp][] = [
    ["a = 1\nb = ", /line 2: /],
    ['a = "open', /line 1: unterminated string/],
    ["a = bare", /line 1: invalid value "bare" \(strings need quotes\)/],
    ["a = 1\na = 2", /line 2: key "a" defined twice/],
    ["[t]\n[t]", /line 2: table \[t\] defined twice/],
    ["a = 1\n[a]", /line 2: .*already a value/],
    ["a = { b = 1 }\na.c = 2", /line 2: /],
    ["a = 1 b = 2", /line 1: unexpected "b" after a value/],
    ["d = 2024-01-01", /dates and times are not supported/],
    ["a = [1, 2", /line 1: expected "," or "]"/],
    [String.raw`a = "\q"`, /invalid escape/],
    ["[a", /expected "\]"/],
    ["= 1", /expected a key|unexpected "="/],
    ["a = 012", /invalid value "012"/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseToml(text),
      (e: unknown) => e instanceof TomlError && message.test(e.message),
      JSON.stringify(text),
    );
  }
});
