import assert from "node:assert/strict";
import { sshdUnavailable } from "../../support/mod.ts";

const unavailable = await sshdUnavailable();

// Only that the bench still runs end to end and reports every section: no timing is judged.
Deno.test({
  name: "deno task bench --quick runs every section against real sshd and writes its JSON",
  ignore: unavailable !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "fusion-bench-smoke-" });
    try {
      const out = `${dir}/latest.json`;
      const res = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../../../bench/main.ts", import.meta.url).pathname,
          "--quick",
          "--only=connect,calls,messages,push,fanout,isolation,zeroinstall,supervisor",
          "--hosts=1",
          `--out=${out}`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(res.stdout);
      assert.ok(res.success, `bench failed:\n${text}\n${new TextDecoder().decode(res.stderr)}`);
      assert.match(text, /connect warm p50/);
      const json = JSON.parse(await Deno.readTextFile(out)) as {
        quick: boolean;
        rows: { section: string; fusion: number }[];
      };
      assert.equal(json.quick, true);
      const sections = new Set(json.rows.map((r) => r.section));
      for (
        const s of [
          "connect",
          "calls",
          "messages",
          "memory",
          "push",
          "fan-out",
          "isolation",
          "zero-install",
          "supervisors",
        ]
      ) {
        assert.ok(sections.has(s), `section ${s} in ${[...sections].join(", ")}`);
      }
      assert.ok(json.rows.every((r) => Number.isFinite(r.fusion)), "every figure is a number");
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
