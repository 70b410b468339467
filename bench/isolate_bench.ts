/**
 * What isolation costs, on its own: the "isolation" section of `deno task bench`
 * (bench/_isolate.ts) against a real sshd host started for it.
 *
 *   deno run -A bench/isolate_bench.ts [calls=1000] [--json]
 * @module
 */
import { Node } from "../src/node.ts";
import { NodeManager } from "../src/remote/mod.ts";
import { startSshd } from "../tests/support/mod.ts";
import { isolationRows, measureIsolation } from "./_isolate.ts";

const calls = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 1000);
const asJson = Deno.args.includes("--json");

const host = await startSshd({ hostKeyTypes: ["ed25519"] });
let results;
try {
  await using node = await Node.start({ name: "isobench", registryPort: 0 });
  await using remote = await new NodeManager(host.target(), { node }).connect();
  results = await measureIsolation(remote, { calls, log: (l) => console.error(l) });
} finally {
  await host.stop();
}

if (asJson) console.log(JSON.stringify({ deno: Deno.version.deno, ...results }, null, 2));
else {
  const ms = (x: number) => x.toFixed(3).padStart(9);
  console.log(`isolation overhead, ${calls} calls each, Deno ${Deno.version.deno}`);
  console.log(`${"".padEnd(28)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}`);
  const row = (name: string, s: { p50: number; p99: number }) =>
    console.log(`${name.padEnd(28)}${ms(s.p50)}${ms(s.p99)}`);
  row("run in agent", results.run.inAgent);
  row("run isolated", results.run.isolated);
  row("runFun in agent", results.runFun.inAgent);
  row("runFun isolated", results.runFun.isolated);
  row("local call", results.localHop.direct);
  row("local sandbox hop", results.localHop.sandbox);
  row("first isolated runFun", results.coldRunFun);
  row("first isolated run", results.coldRun);
  row("deno run (empty module)", results.denoStart);
  console.log();
  for (const r of isolationRows(results)) {
    if (r.target) {
      console.log(
        `${r.case.trim()}: ${r.fusion.toFixed(3)} ms (${r.met ? "meets" : "misses"} ${r.target})`,
      );
    }
  }
}
