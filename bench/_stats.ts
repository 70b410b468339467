/** Small statistics and formatting helpers for the benchmarks. */

/** The q-quantile (0..1) of `xs` (nearest rank on a sorted copy). */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i]!;
}

/** Median, p95 and p99 of a sample, with its size. */
export interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
}

/** Summarises a sample. */
export function summarize(xs: readonly number[]): Summary {
  return {
    n: xs.length,
    p50: quantile(xs, 0.5),
    p95: quantile(xs, 0.95),
    p99: quantile(xs, 0.99),
    min: Math.min(...xs),
    max: Math.max(...xs),
  };
}

/** This process's user+system CPU time in ms (Linux /proc; Deno has no getrusage). */
export function cpuMs(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 (1-based); the slice starts at field 3.
  return (Number(f[11]) + Number(f[12])) * 1000 / CLK_TCK;
}

/** CPU time of this process's waited-for children, in ms. */
export function childCpuMs(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[13]) + Number(f[14])) * 1000 / CLK_TCK;
}

const CLK_TCK = 100;

/** Resident set size of a process in MiB, from /proc/<pid>/status. */
export function rssMiB(pid: number | "self" = "self"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Rounds for display. */
export function fmt(x: number | undefined, digits = 2): string {
  if (x === undefined || Number.isNaN(x)) return "—";
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en");
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(Math.max(0, digits - 1));
  return x.toFixed(digits);
}

/** A ratio "1.23×", or "—". */
export function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !b || Number.isNaN(a) || Number.isNaN(b)) return "—";
  return `${(a / b).toFixed(2)}×`;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Yields to the event loop (a macrotask), so sockets get to run. */
export function yieldToLoop(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}
