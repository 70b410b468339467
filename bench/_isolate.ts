/**
 * What isolation costs: in-agent vs isolated `run` and `runFun` (calls interleaved
 * so machine load hits both alike), the first isolated call of a new permission
 * set (a sandbox process starts) next to a bare `deno run`, and the sandbox hop
 * alone on this machine (no SSH). Used by bench/main.ts and bench/isolate_bench.ts.
 * @module
 */
import { normalizePermissions } from "../src/agent/isolate_permissions.ts";
import { IsolatePool } from "../src/agent/isolate_pool.ts";
import type { Node } from "../src/node.ts";
import { NodeManager } from "../src/remote/mod.ts";
import type { RemoteNode } from "../src/remote/remote_node.ts";
import type { SshdHost } from "../tests/support/mod.ts";
import { type BenchRow, interleaved, type Report, time } from "./_row.ts";
import { summarize, type Summary } from "./_stats.ts";

/** Options for {@linkcode measureIsolation}. */
export interface IsolationOptions {
  /** Warm calls of each kind, isolated and in the agent (default 1000). */
  calls?: number;
  /** Cold first isolated calls of each kind (default 5). */
  coldRuns?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** In-agent and isolated timings of one kind of call, in ms. */
export interface CallPair {
  inAgent: Summary;
  isolated: Summary;
}

/** Everything {@linkcode measureIsolation} measured, in ms. */
export interface IsolationResults {
  calls: number;
  runFun: CallPair;
  run: CallPair;
  /** First isolated call with a permission set not seen before: a sandbox starts. */
  coldRunFun: Summary;
  coldRun: Summary;
  /** `deno run` of an empty module on this machine, measured beside the cold calls. */
  denoStart: Summary;
  /** A pooled sandbox on this machine vs a plain async call: the hop alone. */
  localHop: { direct: Summary; sandbox: Summary };
}

const FIXTURE = new URL("./fixtures/remote_actors.ts", import.meta.url);

async function denoRunEmpty(): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", "--no-lock", "--no-prompt", "--quiet", "data:text/javascript,"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  if (!out.success) throw new Error(`deno run of an empty module failed (${out.code})`);
}

/** Measures isolated against in-agent calls on `remote`, and the sandbox hop on this machine. */
export async function measureIsolation(
  remote: RemoteNode,
  options: IsolationOptions = {},
): Promise<IsolationResults> {
  const calls = options.calls ?? 1000;
  const coldRuns = options.coldRuns ?? 5;
  const log = options.log ?? (() => {});
  await remote.run(FIXTURE, "noop"); // pushed once: no run below sends code
  const one = () => 1;

  // Cold: a permission set not seen before needs a new sandbox (a Deno start).
  log(`  cold: ${coldRuns} first isolated calls of each kind, beside a bare deno run`);
  const tag = crypto.randomUUID().slice(0, 8);
  const coldFun: number[] = [];
  const coldRun: number[] = [];
  const denoStart: number[] = [];
  for (let i = 0; i < coldRuns; i++) {
    const env = (k: string) => ({ env: [`FUSION_BENCH_${tag}_${k}_${i}`] });
    coldFun.push(await time(() => remote.runFun(one, [], { permissions: env("F") })));
    coldRun.push(await time(() => remote.run(FIXTURE, "noop", [], { permissions: env("R") })));
    denoStart.push(await time(denoRunEmpty));
  }

  log(`  warm: ${calls} calls of each, isolated and in the agent, interleaved`);
  const warm = Math.min(50, Math.ceil(calls / 5));
  const [agentFun, isoFun] = await interleaved(
    calls,
    () => remote.runFun(one, []),
    () => remote.runFun(one, [], { isolate: true }),
    warm,
  );
  const [agentRun, isoRun] = await interleaved(
    calls,
    () => remote.run(FIXTURE, "noop"),
    () => remote.run(FIXTURE, "noop", [], { isolate: true }),
    warm,
  );

  // The sandbox hop alone: a pooled sandbox on this machine vs a plain call.
  const dir = await Deno.makeTempDir({ prefix: "fusion-bench-isolate-" });
  const pool = new IsolatePool();
  let direct: number[];
  let hop: number[];
  try {
    const js = `${dir}/hop.js`;
    await Deno.writeTextFile(js, "export const add = (a, b) => a + b;\n");
    const spec = { permissions: normalizePermissions({}), timeoutMs: 10_000 };
    const add = (a: number, b: number) => Promise.resolve(a + b);
    [direct, hop] = await interleaved(
      calls,
      () => add(1, 2),
      () => pool.run(js, { fn: "add", args: [1, 2] }, spec),
      warm,
    );
  } finally {
    pool.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return {
    calls,
    runFun: { inAgent: summarize(agentFun), isolated: summarize(isoFun) },
    run: { inAgent: summarize(agentRun), isolated: summarize(isoRun) },
    coldRunFun: summarize(coldFun),
    coldRun: summarize(coldRun),
    denoStart: summarize(denoStart),
    localHop: { direct: summarize(direct), sandbox: summarize(hop) },
  };
}

/** The target: a warm isolated call costs under 2 ms more than an in-agent call (p50). */
export const ADDED_MS_TARGET = 2;

/** Table rows for {@linkcode IsolationResults} (section "isolation"). */
export function isolationRows(r: IsolationResults): BenchRow[] {
  const rows: BenchRow[] = [];
  const section = "isolation";
  for (
    const [name, pair] of [["runFun(() => 1)", r.runFun], ["run(pushed noop)", r.run]] as const
  ) {
    for (const q of ["p50", "p99"] as const) {
      rows.push({
        section,
        case: `${name} isolated, warm ${q}`,
        fusion: pair.isolated[q],
        unit: "ms",
        baseline: { name: "the same call in the agent", value: pair.inAgent[q] },
        ratio: pair.isolated[q] / pair.inAgent[q],
        detail: { n: pair.isolated.n, isolated: pair.isolated, inAgent: pair.inAgent },
      });
    }
    const added = pair.isolated.p50 - pair.inAgent.p50;
    rows.push({
      section,
      case: `  ${name}: isolation adds, p50`,
      fusion: added,
      unit: "ms",
      target: `< ${ADDED_MS_TARGET} ms added`,
      met: added < ADDED_MS_TARGET,
    });
    rows.push({
      section,
      case: `  ${name}: isolation adds, p99`,
      fusion: pair.isolated.p99 - pair.inAgent.p99,
      unit: "ms",
      note: "difference of the two p99s",
    });
  }
  for (const [name, s] of [["runFun", r.coldRunFun], ["run", r.coldRun]] as const) {
    rows.push({
      section,
      case: `first isolated ${name} (new sandbox) p50`,
      fusion: s.p50,
      unit: "ms",
      baseline: { name: "deno run of an empty module", value: r.denoStart.p50 },
      ratio: s.p50 / r.denoStart.p50,
      detail: { cold: s, denoStart: r.denoStart },
    });
  }
  const h = r.localHop;
  rows.push({
    section,
    case: "sandbox hop alone (no SSH) p50",
    fusion: h.sandbox.p50 * 1000,
    unit: "µs",
    note: `a direct call: ${(h.direct.p50 * 1000).toFixed(1)} µs`,
    detail: { sandboxMs: h.sandbox, directMs: h.direct },
  });
  return rows;
}

/** Options for {@linkcode benchIsolation}. */
export interface IsolationBenchOptions {
  quick: boolean;
  report: Report;
}

/** The "isolation" section: connects to `host`, measures, adds the rows. */
export async function benchIsolation(
  host: SshdHost,
  hub: Node,
  options: IsolationBenchOptions,
): Promise<void> {
  const { quick, report } = options;
  const remote = await new NodeManager(host.target(), { node: hub }).connect();
  try {
    const r = await measureIsolation(remote, {
      calls: quick ? 50 : 1000,
      coldRuns: quick ? 1 : 5,
      log: (l) => report.log(l),
    });
    for (const row of isolationRows(r)) report.add(row);
  } finally {
    await remote.close();
  }
}
