/** The row and reporter shapes the bench sections share with bench/main.ts, and their ssh baseline. */
import type { SshdHost } from "../tests/support/mod.ts";

/** One line of the bench table (the shape bench/main.ts prints and writes to JSON). */
export interface BenchRow {
  section: string;
  case: string;
  fusion: number;
  unit: string;
  baseline?: { name: string; value: number };
  /** fusion / baseline, or baseline / fusion for throughputs (so >1 is always "slower"). */
  ratio?: number;
  target?: string;
  met?: boolean;
  note?: string;
  detail?: unknown;
}

/** Where a section puts its rows and its progress lines. */
export interface Report {
  add(row: BenchRow): void;
  log(line: string): void;
}

/** Milliseconds `f` takes. */
export async function time(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

/** Measures `a` and `b` alternately `n` times each after `warm` untimed rounds, so load hits both alike. */
export async function interleaved(
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

/** `ssh` arguments that run `command` on `h` as OpenSSH would for a user: batch mode, its key, strict host keys. */
export function sshArgs(h: SshdHost, command: string): string[] {
  return [
    "-o",
    "BatchMode=yes",
    "-i",
    h.keyPath,
    "-o",
    `UserKnownHostsFile=${h.knownHostsPath}`,
    "-o",
    "StrictHostKeyChecking=yes",
    "-F",
    "/dev/null",
    "-p",
    String(h.port),
    `${h.user}@${h.host}`,
    command,
  ];
}
