/**
 * How results reach the user: text (a live per-host display on a TTY, plain
 * lines otherwise), one JSON array, or one JSON object per line.
 * @module
 */
import { RemoteError } from "../errors.ts";
import type { HostResult } from "../task_runner.ts";
import type { HostState } from "../fan_out.ts";

/** Where a reporter writes. */
export interface ReporterIo {
  /** Writes to stdout. */
  stdout(text: string): void;
  /** Writes to stderr. */
  stderr(text: string): void;
  /** True when stdout is a terminal: draw the live display. */
  tty: boolean;
  /** Terminal width and height, when a terminal. */
  size?: () => { columns: number; rows: number };
}

/** Receives a fan-out's progress and results. */
export interface Reporter {
  /** The hosts about to be worked on, in order. */
  start(hosts: readonly string[]): void;
  /** A host changed state. */
  state(host: string, state: HostState): void;
  /** A line of output from a host's remote code. */
  output(host: string, line: string): void;
  /** A -v log line. */
  log(line: string): void;
  /** A host finished. */
  result(r: HostResult): void;
  /** Every host finished: summary, or the JSON array. */
  finish(results: readonly HostResult[], elapsedMs: number, note?: string): void;
}

/** Options for the reporters. */
export interface ReporterOptions {
  /** Renders a successful value (text mode): the first line goes beside the host. */
  format: (value: unknown) => string;
  /** Renders extra lines under a failed host (text mode), e.g. a command's output. */
  detail?: (error: Error) => string;
  /** Show stack traces. */
  verbose: boolean;
}

/** Makes the reporter for an output mode. */
export function createReporter(
  mode: "text" | "json" | "ndjson",
  io: ReporterIo,
  options: ReporterOptions,
): Reporter {
  if (mode === "json") return new JsonReporter(io, options, false);
  if (mode === "ndjson") return new JsonReporter(io, options, true);
  return io.tty ? new LiveReporter(io, options) : new TextReporter(io, options);
}

/** A result as plain JSON data: `{ host, ok, value | error, ms }`. */
export function resultJson(r: HostResult, verbose = false): Record<string, unknown> {
  if (r.ok) return { host: r.host, ok: true, value: toJsonValue(r.value), ms: r.ms };
  const extra = (r.error as { result?: unknown }).result;
  return {
    host: r.host,
    ok: false,
    error: errorJson(r.error, verbose),
    ...(extra !== undefined ? { value: toJsonValue(extra) } : {}),
    ms: r.ms,
  };
}

/** An error as JSON data: name and message (and the remote class, the stack with -v). */
export function errorJson(e: Error, verbose = false): Record<string, unknown> {
  return {
    name: e.name,
    message: e.message,
    ...(e instanceof RemoteError ? { remoteName: e.remoteName } : {}),
    ...(verbose && e.stack ? { stack: e.stack } : {}),
    ...(verbose && e instanceof RemoteError && e.remoteStack ? { remoteStack: e.remoteStack } : {}),
  };
}

/** Turns values JSON cannot hold into ones it can (bigint → string, bytes → base64, …). */
export function toJsonValue(v: unknown, seen = new Set<unknown>()): unknown {
  if (v === undefined) return null;
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
  if (v === null || typeof v !== "object") {
    return typeof v === "function" || typeof v === "symbol" ? String(v) : v;
  }
  if (seen.has(v)) return "[Circular]";
  seen.add(v);
  try {
    if (v instanceof Uint8Array) return { base64: btoa(String.fromCharCode(...v)) };
    if (v instanceof Date) return v.toISOString();
    if (v instanceof Error) return errorJson(v);
    if (v instanceof Map) {
      return Object.fromEntries([...v].map(([k, x]) => [String(k), toJsonValue(x, seen)]));
    }
    if (v instanceof Set) return [...v].map((x) => toJsonValue(x, seen));
    if (Array.isArray(v)) return v.map((x) => toJsonValue(x, seen));
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null && typeof v.toString === "function") {
      // Pids, Refs and other classes with a stable string form.
      const s = String(v);
      if (s !== "[object Object]") return s;
    }
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, toJsonValue(x, seen)]),
    );
  } finally {
    seen.delete(v);
  }
}

/** The first line of an error for a one-line report. */
export function errorLine(e: Error): string {
  const first = e.message.split("\n")[0] ?? "";
  return `${e.name}: ${first}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function summary(results: readonly HostResult[], elapsedMs: number, note?: string): string {
  const ok = results.filter((r) => r.ok).length;
  const failed = results.length - ok;
  const hosts = `${results.length} host${results.length === 1 ? "" : "s"}`;
  return `${hosts}: ${ok} ok, ${failed} failed in ${seconds(elapsedMs)}${note ? ` (${note})` : ""}`;
}

function indent(text: string, prefix = "  "): string {
  return text.split("\n").map((l) => prefix + l).join("\n");
}

/** Plain text: a block per host as it finishes, then a summary. */
class TextReporter implements Reporter {
  protected readonly io: ReporterIo;
  protected readonly o: ReporterOptions;
  protected width = 0;

  constructor(io: ReporterIo, options: ReporterOptions) {
    this.io = io;
    this.o = options;
  }

  start(hosts: readonly string[]): void {
    this.width = Math.min(40, Math.max(0, ...hosts.map((h) => h.length)));
  }

  state(_host: string, _state: HostState): void {}

  output(host: string, line: string): void {
    this.print(`[${host}] ${line}\n`);
  }

  log(line: string): void {
    this.io.stderr(line + "\n");
  }

  protected print(text: string): void {
    this.io.stdout(text);
  }

  protected block(r: HostResult): string {
    const head = `${r.host.padEnd(this.width)}  ${r.ok ? "ok    " : "FAILED"}  ${
      String(r.ms).padStart(5)
    } ms`;
    if (r.ok) {
      const text = this.o.format(r.value);
      const [first = "", ...rest] = text.split("\n");
      return [`${head}  ${first}`.trimEnd(), ...rest.map((l) => `  ${l}`)].join("\n") + "\n";
    }
    const lines = [`${head}  ${errorLine(r.error)}`];
    const more = r.error.message.split("\n").slice(1).join("\n");
    if (more.trim()) lines.push(indent(more));
    const detail = this.o.detail?.(r.error);
    if (detail) lines.push(detail);
    if (this.o.verbose) lines.push(indent(fullStack(r.error)));
    return lines.join("\n") + "\n";
  }

  result(r: HostResult): void {
    this.print(this.block(r));
  }

  finish(results: readonly HostResult[], elapsedMs: number, note?: string): void {
    this.print(summary(results, elapsedMs, note) + "\n");
  }
}

function fullStack(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur && depth < 5; depth++) {
    if (cur instanceof Error) {
      parts.push(depth === 0 ? cur.stack ?? String(cur) : `caused by: ${cur.stack ?? String(cur)}`);
      if (cur instanceof RemoteError && cur.remoteStack) parts.push(`remote: ${cur.remoteStack}`);
      cur = cur.cause;
    } else {
      parts.push(`caused by: ${String(cur)}`);
      break;
    }
  }
  return parts.join("\n");
}

const ESC = "\x1b[";

/** On a TTY: finished hosts scroll above a live area of running hosts and a counter. */
class LiveReporter extends TextReporter {
  #states = new Map<string, { state: HostState; since: number }>();
  #drawn = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #t0 = performance.now();
  #done = 0;
  #failed = 0;

  override start(hosts: readonly string[]): void {
    super.start(hosts);
    this.#t0 = performance.now();
    for (const h of hosts) this.#states.set(h, { state: "queued", since: this.#t0 });
    this.io.stdout(`${ESC}?25l`);
    this.#timer = setInterval(() => this.#redraw(), 100);
    this.#redraw();
  }

  override state(host: string, state: HostState): void {
    if (state === "done" || state === "failed") return;
    this.#states.set(host, { state, since: performance.now() });
  }

  override log(line: string): void {
    this.#above(() => this.io.stderr(line + "\n"));
  }

  protected override print(text: string): void {
    this.#above(() => this.io.stdout(text));
  }

  override result(r: HostResult): void {
    this.#states.delete(r.host);
    this.#done++;
    if (!r.ok) this.#failed++;
    super.result(r);
  }

  override finish(results: readonly HostResult[], elapsedMs: number, note?: string): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#clear();
    this.io.stdout(`${ESC}?25h`);
    this.io.stdout(summary(results, elapsedMs, note) + "\n");
  }

  // Permanent text goes above the live area: clear it, write, draw it again.
  #above(write: () => void): void {
    this.#clear();
    write();
    this.#redraw();
  }

  #clear(): void {
    if (this.#drawn > 0) this.io.stdout(`${ESC}${this.#drawn}F${ESC}J`);
    this.#drawn = 0;
  }

  #redraw(): void {
    if (this.#timer === undefined) return;
    const size = this.io.size?.() ?? { columns: 80, rows: 24 };
    // A pseudo-terminal may report 0 x 0.
    const columns = size.columns >= 20 ? size.columns : 80;
    const rows = size.rows >= 5 ? size.rows : 24;
    const now = performance.now();
    const active = [...this.#states].filter(([, s]) => s.state !== "queued");
    const queued = this.#states.size - active.length;
    const room = Math.max(1, rows - 3);
    const lines = active.slice(0, room).map(([host, s]) =>
      `  ${host.padEnd(this.width)}  ${s.state.padEnd(10)}  ${seconds(now - s.since)}`
    );
    if (active.length > room) lines.push(`  … and ${active.length - room} more`);
    const total = this.#done + this.#states.size;
    lines.push(
      `  ${this.#done}/${total} done, ${this.#failed} failed, ${queued} queued, ${
        seconds(now - this.#t0)
      }`,
    );
    const text = lines.map((l) => l.slice(0, Math.max(10, columns - 1))).join("\n") + "\n";
    this.#clear();
    this.io.stdout(text);
    this.#drawn = lines.length;
  }
}

/** JSON: one array at the end, or (ndjson) one object per line as hosts finish. */
class JsonReporter implements Reporter {
  readonly #io: ReporterIo;
  readonly #o: ReporterOptions;
  readonly #stream: boolean;

  constructor(io: ReporterIo, options: ReporterOptions, stream: boolean) {
    this.#io = io;
    this.#o = options;
    this.#stream = stream;
  }

  start(_hosts: readonly string[]): void {}
  state(_host: string, _state: HostState): void {}

  output(host: string, line: string): void {
    // stdout holds only JSON: remote output goes to stderr.
    this.#io.stderr(`[${host}] ${line}\n`);
  }

  log(line: string): void {
    this.#io.stderr(line + "\n");
  }

  result(r: HostResult): void {
    if (this.#stream) this.#io.stdout(JSON.stringify(resultJson(r, this.#o.verbose)) + "\n");
  }

  finish(results: readonly HostResult[], elapsedMs: number, note?: string): void {
    if (!this.#stream) {
      this.#io.stdout(JSON.stringify(results.map((r) => resultJson(r, this.#o.verbose))) + "\n");
    }
    this.#io.stderr(summary(results, elapsedMs, note) + "\n");
  }
}
