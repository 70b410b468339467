/**
 * Working on many hosts at once, at most `parallel` at a time: a failing
 * host never stops the others, each host yields one result as it finishes,
 * and an abort stops queued hosts and tells running ones to let go.
 * @module
 */

/**
 * One host's outcome: its value, or the error that failed it.
 *
 * @example
 * ```ts ignore
 * const results: HostResult[] = await runMany(["web-01", "web-02"], "./health.ts", "check")
 *   .collect();
 * const failed = results.filter((r) => !r.ok).map((r) => r.host);
 * ```
 */
export type HostResult =
  | { host: string; ok: true; value: unknown; ms: number }
  | { host: string; ok: false; error: Error; ms: number };

/** Where a host stands. */
export type HostState = "queued" | "connecting" | "running" | "done" | "failed";

/** What a host's work gets besides its host. */
export interface HostContext {
  /** Reports progress ("connecting", then "running"). */
  state(state: "connecting" | "running"): void;
  /** Aborted when the whole fan-out is interrupted. */
  readonly signal: AbortSignal;
}

/** The work done on one host; its value becomes the host's result. */
export type HostWork<T> = (host: T, ctx: HostContext) => Promise<unknown>;

/** Options for {@linkcode fanOut}. */
export interface FanOutOptions<T> {
  /** Hosts worked on at once (at least 1). */
  parallel: number;
  /** The name a host's results and states carry. */
  label: (host: T) => string;
  /** Interrupts: queued hosts fail at once, running ones see `ctx.signal`. */
  signal?: AbortSignal;
  /** Called on each state change. */
  onState?: (host: string, state: HostState) => void;
}

/** Makes the error a host reports when it was interrupted. */
export function interruptedError(cause?: unknown): Error {
  const e = new Error("interrupted", cause === undefined ? undefined : { cause });
  e.name = "AbortError";
  return e;
}

/** Runs `work` on every host and yields each host's result as it finishes. */
export async function* fanOut<T>(
  hosts: readonly T[],
  work: HostWork<T>,
  options: FanOutOptions<T>,
): AsyncGenerator<HostResult> {
  const label = options.label;
  const parallel = Math.max(1, options.parallel);
  const signal = options.signal ?? new AbortController().signal;
  const queue = [...hosts];
  const done: HostResult[] = [];
  let wake: (() => void) | undefined;
  let running = 0;
  for (const h of hosts) options.onState?.(label(h), "queued");

  const finish = (r: HostResult) => {
    options.onState?.(r.host, r.ok ? "done" : "failed");
    done.push(r);
    wake?.();
  };

  const one = async (h: T): Promise<void> => {
    const t0 = performance.now();
    const ms = () => Math.round(performance.now() - t0);
    let result: HostResult;
    try {
      if (signal.aborted) throw interruptedError();
      const value = await work(h, {
        state: (s) => options.onState?.(label(h), s),
        signal,
      });
      result = { host: label(h), ok: true, value, ms: ms() };
    } catch (e) {
      let error = e instanceof Error ? e : new Error(String(e));
      if (signal.aborted && error.name !== "AbortError") error = interruptedError(error);
      result = { host: label(h), ok: false, error, ms: ms() };
    }
    // Counted down before the result is seen, so the loop below never waits for nothing.
    running--;
    startMore();
    finish(result);
  };

  const startMore = () => {
    while (running < parallel && queue.length) {
      running++;
      void one(queue.shift()!);
    }
  };
  const onAbort = () => {
    // Queued hosts never start.
    for (const h of queue.splice(0)) {
      finish({ host: label(h), ok: false, error: interruptedError(), ms: 0 });
    }
  };
  signal.addEventListener("abort", onAbort, { once: true });
  if (signal.aborted) onAbort();
  try {
    startMore();
    while (running > 0 || done.length > 0 || queue.length > 0) {
      if (done.length === 0) {
        await new Promise<void>((r) => wake = r);
        wake = undefined;
        continue;
      }
      yield done.shift()!;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
