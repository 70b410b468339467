import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type ControlMessage,
  decodeControl,
  destinationNode,
  encodeControl,
  OP,
  sourceNode,
} from "../../../src/dist/control.ts";
import { ProtocolError } from "../../../src/errors.ts";
import { Codec } from "../../../src/wire/codec.ts";
import { Pid } from "../../../src/wire/pid.ts";
import { Ref } from "../../../src/wire/ref.ts";

const A = "a@localhost";
const B = "b@remote";
const pa = new Pid(A, 1, 1);
const pb = new Pid(B, 2, 3);
const ref = new Ref(A, 5, 1);

const samples: ControlMessage[] = [
  { op: OP.SEND, to: pb, msg: { hello: [1, 2, 3] } },
  { op: OP.SEND_NAMED, name: "svc", node: B, msg: "hi" },
  { op: OP.LINK, from: pa, to: pb },
  { op: OP.UNLINK, from: pa, to: pb },
  { op: OP.EXIT, from: pa, to: pb, reason: { error: { name: "E", message: "m", stack: "s" } } },
  { op: OP.EXIT2, from: pa, to: pb, reason: "kill" },
  { op: OP.MONITOR, from: pa, to: pb, ref },
  { op: OP.MONITOR, from: pa, to: ["svc", B], ref },
  { op: OP.DEMONITOR, from: pa, to: ["svc", B], ref },
  { op: OP.DOWN, from: pb, to: pa, ref, reason: "normal" },
  { op: OP.DOWN, from: ["svc", B], to: pa, ref, reason: "noproc" },
  { op: OP.REQUEST, from: pa, node: B, ref, kind: "run", payload: { fn: "f", args: [1] } },
  { op: OP.REPLY, node: A, ref, ok: true, value: 3 },
  { op: OP.REPLY, node: A, ref, ok: false, value: "boom" },
];

Deno.test("every control message survives encodeControl, the codec and decodeControl", () => {
  const codec = new Codec();
  for (const m of samples) {
    const back = decodeControl(codec.decode(codec.encode(encodeControl(m))));
    assert.deepEqual(back, m);
  }
});

Deno.test("destinationNode() and sourceNode() name the right nodes", () => {
  const want: [string, string | undefined][] = [
    [B, undefined],
    [B, undefined],
    [B, A],
    [B, A],
    [B, A],
    [B, A],
    [B, A],
    [B, A],
    [B, A],
    [A, B],
    [A, B],
    [B, A],
    [A, undefined],
    [A, undefined],
  ];
  samples.forEach((m, i) => {
    assert.deepEqual([destinationNode(m), sourceNode(m)], want[i], `sample ${i}`);
  });
});

function rejects(v: unknown, what: string): void {
  assert.throws(() => decodeControl(v), ProtocolError, what);
}

Deno.test("decodeControl() rejects what is not an array or has an unknown operation", () => {
  for (
    const v of [null, undefined, 1, "x", {}, { 0: 1, length: 3 }, new Uint8Array(3), new Map()]
  ) {
    rejects(v, Deno.inspect(v));
  }
  for (const op of [0, 12, -1, 1.5, "1", null, true, [1], 2 ** 53]) {
    rejects([op, pb, "m"], `op ${Deno.inspect(op)}`);
  }
  rejects([], "empty");
});

Deno.test("decodeControl() rejects every operation with too few or too many elements", () => {
  for (const m of samples) {
    const wire = encodeControl(m);
    rejects(wire.slice(0, -1), `short ${m.op}`);
    rejects([...wire, 0], `long ${m.op}`);
  }
});

Deno.test("decodeControl() rejects a field of the wrong kind in every operation", () => {
  const notPid = [ref, "pid", [A, 1, 1], null, { node: A, id: 1, creation: 1 }];
  const notRef = [pa, "ref", [A, 5, 1], null];
  const notName = ["", "n".repeat(256), 7, null, ["svc"]];
  const notNamed = [["svc"], ["svc", B, "x"], [1, B], ["svc", ""], ["", B], "svc", ref];
  const cases: [unknown[], number, unknown[]][] = [
    [[OP.SEND, pb, "m"], 1, notPid],
    [[OP.SEND_NAMED, "svc", B, "m"], 1, notName],
    [[OP.SEND_NAMED, "svc", B, "m"], 2, notName],
    [[OP.LINK, pa, pb], 1, notPid],
    [[OP.LINK, pa, pb], 2, notPid],
    [[OP.UNLINK, pa, pb], 2, notPid],
    [[OP.EXIT, pa, pb, "r"], 1, notPid],
    [[OP.EXIT2, pa, pb, "r"], 2, notPid],
    [[OP.MONITOR, pa, pb, ref], 1, notPid],
    [[OP.MONITOR, pa, pb, ref], 2, notNamed],
    [[OP.MONITOR, pa, pb, ref], 3, notRef],
    [[OP.DEMONITOR, pa, pb, ref], 3, notRef],
    [[OP.DOWN, pb, pa, ref, "r"], 1, notNamed],
    [[OP.DOWN, pb, pa, ref, "r"], 2, notPid],
    [[OP.DOWN, pb, pa, ref, "r"], 3, notRef],
    [[OP.REQUEST, pa, B, ref, "run", {}], 1, notPid],
    [[OP.REQUEST, pa, B, ref, "run", {}], 2, notName],
    [[OP.REQUEST, pa, B, ref, "run", {}], 3, notRef],
    [[OP.REQUEST, pa, B, ref, "run", {}], 4, notName],
    [[OP.REPLY, A, ref, true, 1], 1, notName],
    [[OP.REPLY, A, ref, true, 1], 2, notRef],
    [[OP.REPLY, A, ref, true, 1], 3, [1, 0, "true", null, undefined]],
  ];
  for (const [good, idx, bads] of cases) {
    assert.doesNotThrow(() => decodeControl(good), `valid ${Deno.inspect(good)}`);
    for (const bad of bads) {
      const v = [...good];
      v[idx] = bad;
      rejects(v, `op ${good[0]} [${idx}] = ${Deno.inspect(bad)}`);
    }
  }
});

Deno.test("decodeControl() takes any value as a message, reason or payload", () => {
  for (const any of [undefined, null, 0, "", [], {}, new Uint8Array(2), pa, ref, new Map()]) {
    assert.equal((decodeControl([OP.SEND, pb, any]) as { msg: unknown }).msg, any);
    assert.equal((decodeControl([OP.EXIT, pa, pb, any]) as { reason: unknown }).reason, any);
  }
});

Deno.test("decodeControl() answers any array with a message or a ProtocolError, never another error", () => {
  const field = fc.oneof(
    fc.anything({ withTypedArray: true, withBigInt: true, withMap: true, withSet: true }),
    fc.constantFrom<unknown>(pa, pb, ref, ["svc", B], "svc", A, true, false),
  );
  fc.assert(
    fc.property(
      fc.integer({ min: -1, max: 13 }),
      fc.array(field, { maxLength: 7 }),
      (op, rest) => {
        try {
          const m = decodeControl([op, ...rest]);
          assert.ok(Object.values(OP).includes(m.op as never));
        } catch (e) {
          assert.ok(e instanceof ProtocolError, String(e));
        }
      },
    ),
    { numRuns: 3000, seed: 1234 },
  );
});
