/**
 * Rivals against the same sshd, when installed: execnet and Mitogen (Python,
 * Debian's python3-execnet / python3-mitogen) and Erlang's `peer` over ssh
 * (erlang-base). Nothing is installed here; a missing rival says how to get it.
 * @module
 */
import type { SshdHost } from "../tests/support/mod.ts";

/** A row as main.ts prints it. */
export interface RivalRow {
  section: string;
  case: string;
  fusion: number;
  unit: string;
  note?: string;
  detail?: unknown;
}

interface RivalResult {
  name: string;
  missing?: string;
  error?: string;
  connect_p50_ms?: number;
  call_p50_us?: number;
  call_p99_us?: number;
}

/** Options for {@linkcode runRivals}. */
export interface RivalOptions {
  quick: boolean;
  calls: number;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** Measures every rival found; rows carry the rival's figure in `fusion` and its name in `case`. */
export async function runRivals(host: SshdHost, options: RivalOptions): Promise<RivalRow[]> {
  const argv = [
    String(host.port),
    host.user,
    host.keyPath,
    host.knownHostsPath,
    String(options.quick ? 1 : 5),
    String(options.calls),
  ];
  const results: RivalResult[] = [];
  // Debian's python3 (the packages live there), not whatever python3 is first on PATH.
  const python = (await exists("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
  const py = await new Deno.Command(python, {
    args: [new URL("./_rivals.py", import.meta.url).pathname, ...argv],
    stdout: "piped",
    stderr: "piped",
  }).output().catch((e) => ({ success: false, stdout: new Uint8Array(), stderr: String(e) }));
  for (const line of new TextDecoder().decode(py.stdout).split("\n")) {
    if (line.trim()) results.push(JSON.parse(line));
  }
  if (!py.success && results.length === 0) {
    results.push({ name: "execnet/mitogen", error: "python3 failed" });
  }
  if (await exists("/usr/bin/escript") || await exists("/usr/local/bin/escript")) {
    const erl = await new Deno.Command("escript", {
      args: [new URL("./_rivals_erlang.escript", import.meta.url).pathname, ...argv],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(erl.stdout).trim().split("\n").at(-1) ?? "";
    try {
      results.push(JSON.parse(out));
    } catch {
      results.push({
        name: "erlang peer",
        error: (out + new TextDecoder().decode(erl.stderr)).slice(0, 300),
      });
    }
  } else results.push({ name: "erlang peer", missing: "apt-get install erlang-base" });

  const rows: RivalRow[] = [];
  for (const r of results) {
    if (r.missing || r.error) {
      console.error(`  ${r.name}: ${r.missing ? `not installed (${r.missing})` : r.error}`);
      continue;
    }
    rows.push({
      section: "rivals",
      case: `${r.name} connect p50`,
      fusion: r.connect_p50_ms!,
      unit: "ms",
    });
    rows.push({
      section: "rivals",
      case: `${r.name} call p50`,
      fusion: r.call_p50_us!,
      unit: "µs",
    });
    rows.push({
      section: "rivals",
      case: `${r.name} call p99`,
      fusion: r.call_p99_us!,
      unit: "µs",
    });
  }
  return rows;
}
