/**
 * Working on many hosts at once, at most `parallel` at a time: a failing
 * host never stops the others, each host yields one result as it finishes,
 * and an abort stops queued hosts and tells running ones to let go.
 * @module
 */
import type { HostResult } from "../task_runner.ts";
import type { HostEntry } from "./inventory.ts";

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
export type HostWork = (host: HostEntry, ctx: HostContext) => Promise<unknown>;

/** Options for {@linkcode fanOut}. */
export interface FanOutOptions {
  /** Hosts worked on at once (at least 1). */
  parallel: number;
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
export async function* fanOut(
  hosts: readonly HostEntry[],
  work: HostWork,
  options: FanOutOptions,
): AsyncGenerator<HostResult> {
  const parallel = Math.max(1, options.parallel);
  const signal = options.signal ?? new AbortController().signal;
  const queue = [...hosts];
  const done: HostResult[] = [];
  let wake: (() => void) | undefined;
  let running = 0;
  for (const h of hosts) options.onState?.(h.label, "queued");

  const finish = (r: HostResult) => {
    options.onState?.(r.host, r.ok ? "done" : "failed");
    done.push(r);
    wake?.();
  };

  const one = async (h: HostEntry): Promise<void> => {
    const t0 = performance.now();
    const ms = () => Math.round(performance.now() - t0);
    let result: HostResult;
    try {
      if (signal.aborted) throw interruptedError();
      const value = await work(h, {
        state: (s) => options.onState?.(h.label, s),
        signal,
      });
      result = { host: h.label, ok: true, value, ms: ms() };
    } catch (e) {
      let error = e instanceof Error ? e : new Error(String(e));
      if (signal.aborted && error.name !== "AbortError") error = interruptedError(error);
      result = { host: h.label, ok: false, error, ms: ms() };
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
      finish({ host: h.label, ok: false, error: interruptedError(), ms: 0 });
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
