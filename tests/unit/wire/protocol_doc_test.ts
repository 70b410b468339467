/**
 * Checks every "```hex wire" example in docs/PROTOCOL.md (the convention is described
 * at the top of that file), whichever section it is in.
 * @module
 */
import assert from "node:assert/strict";
import { ProtocolError, RemoteError } from "../../../src/errors.ts";
import { Codec, encodeFrame, FrameReader, Pid, Ref, TAGS } from "../../../src/wire/mod.ts";
import { fromHex, toHex } from "./_hex.ts";

const DOC = new URL("../../../docs/PROTOCOL.md", import.meta.url);
const FIELDS = ["value", "frame", "decodes", "refused"] as const;
type Field = typeof FIELDS[number];

/** Stands for a tick frame in a `value:` field. */
const TICK = Symbol("tick");
const SCOPE: Record<string, unknown> = { Pid, Ref, RemoteError, TAGS, TICK };

interface Example {
  line: number;
  section: string;
  fields: Partial<Record<Field, string>>;
}

function parseExamples(markdown: string): Example[] {
  const lines = markdown.split("\n");
  const out: Example[] = [];
  let section = "(top)";
  for (let i = 0; i < lines.length; i++) {
    const heading = /^#{1,6}\s+(.*)$/.exec(lines[i]!);
    if (heading) section = heading[1]!;
    if (!/^```hex wire\s*$/.test(lines[i]!)) continue;
    const example: Example = { line: i + 1, section, fields: {} };
    let current: Field | undefined;
    for (i++; i < lines.length && !lines[i]!.startsWith("```"); i++) {
      const m = /^(\w+):(.*)$/.exec(lines[i]!);
      if (m && (FIELDS as readonly string[]).includes(m[1]!)) {
        current = m[1] as Field;
        example.fields[current] = m[2]!;
      } else if (current) example.fields[current] += "\n" + lines[i]!;
      else throw new Error(`PROTOCOL.md line ${i + 1}: text before the first field`);
    }
    out.push(example);
  }
  return out;
}

function evaluate(expr: string): unknown {
  const names = Object.keys(SCOPE);
  return new Function(...names, `"use strict"; return (${expr}\n);`)(...names.map((n) => SCOPE[n]));
}

/** Cuts `frame` with a FrameReader, which must leave nothing over, and decodes it. */
function receive(frame: Uint8Array): unknown[] {
  const reader = new FrameReader();
  const bodies: Uint8Array[] = [];
  reader.push(frame, (body) => bodies.push(body));
  assert.equal(reader.buffered, 0, "the frame's length prefix covers exactly its body");
  const codec = new Codec();
  return bodies.map((body) => body.length === 0 ? TICK : codec.decode(body));
}

const examples = parseExamples(await Deno.readTextFile(DOC));

Deno.test("docs/PROTOCOL.md has checked examples", () => {
  assert.ok(examples.length >= 5, `found ${examples.length}`);
});

for (const ex of examples) {
  const { value, frame, decodes, refused } = ex.fields;
  const first = (value ?? refused ?? "").trim().split("\n")[0];
  Deno.test(`PROTOCOL.md example (${ex.section}, line ${ex.line}) holds: ${first}`, () => {
    assert.ok(frame !== undefined, "an example needs a frame: field");
    const bytes = fromHex(frame);
    if (refused !== undefined) {
      assert.equal(value, undefined, "an example has either value: or refused:");
      assert.throws(() => receive(bytes), (e: unknown) => {
        assert.ok(e instanceof ProtocolError, `expected ProtocolError, got ${e}`);
        assert.ok(
          e.message.includes(refused.trim()),
          `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(refused.trim())}`,
        );
        return true;
      });
      return;
    }
    assert.ok(value !== undefined, "an example needs value: or refused:");
    const v = evaluate(value);
    const codec = new Codec();
    if (v === TICK) {
      assert.equal(toHex(bytes), "00 00 00 00");
    } else {
      assert.equal(toHex(encodeFrame(codec.encode(v))), toHex(bytes), "encode + encodeFrame");
      assert.equal(toHex(codec.encodeFrame(v)), toHex(bytes), "Codec.encodeFrame");
    }
    const got = receive(bytes);
    assert.equal(got.length, 1, "the frame holds exactly one message");
    assert.deepEqual(got[0], decodes === undefined ? v : evaluate(decodes));
  });
}
