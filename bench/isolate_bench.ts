/**
 * What isolation costs: in-agent vs isolated `run` and `runFun` against a real
 * sshd host (calls interleaved so machine load hits both alike), the cold
 * start of a sandbox, and the sandbox hop alone on this machine (no SSH).
 *
 *   deno run -A bench/isolate_bench.ts [calls=1000] [--json]
 * @module
 */
import { connect, Node, run, runFun } from "../mod.ts";
import { normalizePermissions } from "../src/agent/isolate_permissions.ts";
import { IsolatePool } from "../src/agent/isolate_pool.ts";
import { startSshd } from "../tests/support/mod.ts";

const calls = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 1000);
const asJson = Deno.args.includes("--json");

function q(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}
const summary = (xs: number[]) => ({ p50: q(xs, 0.5), p90: q(xs, 0.9), p99: q(xs, 0.99) });

async function time(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

// Measures a and b alternately, `n` times each, after `warm` untimed rounds.
async function interleaved(
  n: number,
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
  warm = 50,
): Promise<[number[], number[]]> {
  const xa: number[] = [];
  const xb: number[] = [];
  for (let i = 0; i < warm; i++) await a(), await b();
  for (let i = 0; i < n; i++) {
    xa.push(await time(a));
    xb.push(await time(b));
  }
  return [xa, xb];
}

const dir = await Deno.makeTempDir();
const module = `${dir}/bench_task.ts`;
await Deno.writeTextFile(module, "export const add = (a: number, b: number) => a + b;\n");
const host = await startSshd();
const results: Record<string, unknown> = { calls, deno: Deno.version.deno };
try {
  await using node = await Node.start({ name: "isobench", registryPort: 0 });
  await using remote = await connect(host.target(), { node });

  // Cold: a sandbox for permissions not seen before, then the same call warm.
  const cold: number[] = [];
  for (let i = 0; i < 5; i++) {
    const permissions = { env: [`BENCH_${i}`] };
    cold.push(await time(() => run(remote, module, "add", [1, 2], { permissions })));
  }
  results.coldStartMs = summary(cold);

  const [agentRun, isoRun] = await interleaved(
    calls,
    () => run(remote, module, "add", [1, 2]),
    () => run(remote, module, "add", [1, 2], { isolate: true }),
  );
  results.run = { inAgent: summary(agentRun), isolated: summary(isoRun) };

  const add = (a: number, b: number) => a + b;
  const [agentFun, isoFun] = await interleaved(
    calls,
    () => runFun(remote, add, [1, 2]),
    () => runFun(remote, add, [1, 2], { isolate: true }),
  );
  results.runFun = { inAgent: summary(agentFun), isolated: summary(isoFun) };
} finally {
  await host.stop();
}

// The sandbox hop alone: a pooled sandbox on this machine vs a plain call.
{
  const js = `${dir}/hop.js`;
  await Deno.writeTextFile(js, "export const add = (a, b) => a + b;\n");
  const pool = new IsolatePool();
  const spec = { permissions: normalizePermissions({}), timeoutMs: 10_000 };
  const add = (a: number, b: number) => Promise.resolve(a + b);
  const [direct, hop] = await interleaved(
    calls,
    () => add(1, 2),
    () => pool.run(js, { fn: "add", args: [1, 2] }, spec),
  );
  results.localHop = { direct: summary(direct), sandbox: summary(hop) };
  pool.close();
}
await Deno.remove(dir, { recursive: true });

if (asJson) console.log(JSON.stringify(results, null, 2));
else {
  const r = results as {
    coldStartMs: { p50: number };
    run: { inAgent: { p50: number; p99: number }; isolated: { p50: number; p99: number } };
    runFun: { inAgent: { p50: number; p99: number }; isolated: { p50: number; p99: number } };
    localHop: { direct: { p50: number; p99: number }; sandbox: { p50: number; p99: number } };
  };
  const ms = (x: number) => x.toFixed(3).padStart(9);
  console.log(`isolation overhead, ${calls} calls each, Deno ${Deno.version.deno}`);
  console.log(`${"".padEnd(26)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}`);
  const row = (name: string, s: { p50: number; p99: number }) =>
    console.log(`${name.padEnd(26)}${ms(s.p50)}${ms(s.p99)}`);
  row("run in agent", r.run.inAgent);
  row("run isolated", r.run.isolated);
  row("runFun in agent", r.runFun.inAgent);
  row("runFun isolated", r.runFun.isolated);
  row("local call", r.localHop.direct);
  row("local sandbox hop", r.localHop.sandbox);
  console.log(
    `isolated run p50 overhead: ${(r.run.isolated.p50 - r.run.inAgent.p50).toFixed(3)} ms`,
  );
  console.log(`sandbox cold start p50: ${r.coldStartMs.p50.toFixed(1)} ms`);
}
