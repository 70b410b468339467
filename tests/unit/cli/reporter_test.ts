import assert from "node:assert/strict";
import { createReporter, resultJson, toJsonValue } from "../../../src/cli/reporter.ts";
import { RemoteError } from "../../../src/errors.ts";

Deno.test("toJsonValue turns what JSON cannot hold into data", () => {
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  assert.deepEqual(
    toJsonValue({
      big: 12n,
      bytes: new Uint8Array([1, 2, 3]),
      map: new Map([["k", 1]]),
      set: new Set([1, 2]),
      nan: NaN,
      nothing: undefined,
      date: new Date(0),
      circular,
    }),
    {
      big: "12",
      bytes: { base64: "AQID" },
      map: { k: 1 },
      set: [1, 2],
      nan: "NaN",
      nothing: null,
      date: "1970-01-01T00:00:00.000Z",
      circular: { a: 1, self: "[Circular]" },
    },
  );
});

Deno.test("resultJson gives { host, ok, value | error, ms }", () => {
  assert.deepEqual(resultJson({ host: "a", ok: true, value: 1, ms: 5 }), {
    host: "a",
    ok: true,
    value: 1,
    ms: 5,
  });
  const remote = new RemoteError({ name: "TypeError", message: "bad", stack: "TypeError: bad" });
  assert.deepEqual(resultJson({ host: "b", ok: false, error: remote, ms: 7 }), {
    host: "b",
    ok: false,
    error: { name: "RemoteError", message: "TypeError: bad", remoteName: "TypeError" },
    ms: 7,
  });
});

Deno.test("the plain text reporter prints a line per host and a summary", () => {
  let out = "";
  const r = createReporter("text", {
    stdout: (t) => out += t,
    stderr: () => {},
    tty: false,
  }, { format: (v) => String(v), verbose: false });
  r.start(["web-01", "db"]);
  r.output("db", "hello");
  r.result({ host: "db", ok: true, value: "multi\nline", ms: 12 });
  r.result({ host: "web-01", ok: false, error: new Error("first\nsecond"), ms: 3 });
  r.finish([], 1500);
  assert.equal(
    out,
    [
      "[db] hello",
      "db      ok         12 ms  multi",
      "  line",
      "web-01  FAILED      3 ms  Error: first",
      "  second",
      "0 hosts: 0 ok, 0 failed in 1.50 s",
      "",
    ].join("\n"),
  );
});

Deno.test("the JSON reporter keeps stdout for JSON and sends remote output to stderr", () => {
  let out = "";
  let err = "";
  const r = createReporter("json", {
    stdout: (t) => out += t,
    stderr: (t) => err += t,
    tty: false,
  }, { format: String, verbose: false });
  r.start(["a"]);
  r.output("a", "printed");
  const result = { host: "a", ok: true as const, value: [1], ms: 2 };
  r.result(result);
  r.finish([result], 10);
  assert.deepEqual(JSON.parse(out), [{ host: "a", ok: true, value: [1], ms: 2 }]);
  assert.match(err, /^\[a\] printed\n1 host: 1 ok, 0 failed in 0\.01 s\n$/);
});
