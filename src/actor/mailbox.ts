import { NoProcError, TimeoutError } from "../errors.ts";

/**
 * Options for a single receive.
 *
 * @example
 * ```ts
 * import { Node } from "./mod.ts";
 * await using node = await Node.start({ registryPort: 0 });
 * using inbox = node.inbox();
 * node.send(inbox.self, "noise");
 * node.send(inbox.self, { type: "ready" });
 * const isReady = (m: unknown) => (m as { type?: string } | null)?.type === "ready";
 * await inbox.receive({ match: isReady, timeoutMs: 1000 }); // { type: "ready" }; "noise" stays
 * ```
 */
export interface ReceiveOptions<T = unknown> {
  /**
   * Only a message for which this returns true is taken; others stay, in order.
   * When it throws, this receive rejects with what it threw and the message stays.
   */
  match?: (msg: unknown) => boolean;
  /** Rejects with `TimeoutError` after this many ms; 0 polls; absent (or Infinity) waits forever. */
  timeoutMs?: number;
  /** @internal type carrier */
  readonly _type?: T;
}

interface Waiter {
  match: ((msg: unknown) => boolean) | undefined;
  resolve(msg: unknown): void;
  reject(e: unknown): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Options for {@linkcode Mailbox}. */
export interface MailboxOptions {
  /** Messages held before new ones are dropped. */
  maxMessages: number;
  /** Names the owner in errors. */
  owner: string;
}

/**
 * A process's queue of messages with selective receive. Past `maxMessages`
 * new messages are dropped (and counted), so memory stays bounded.
 */
export class Mailbox {
  readonly #max: number;
  readonly #owner: string;
  #items: unknown[] = [];
  #head = 0;
  #waiters: Waiter[] = [];
  #closed: Error | undefined;
  /** Messages dropped because the mailbox was full. */
  dropped = 0;

  constructor(options: MailboxOptions) {
    this.#max = options.maxMessages;
    this.#owner = options.owner;
  }

  /** Messages waiting. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Delivers a message: to a waiting receive that matches it, else to the queue. */
  push(msg: unknown): void {
    if (this.#closed) return;
    for (let i = 0; i < this.#waiters.length;) {
      const w = this.#waiters[i]!;
      let ok: boolean;
      try {
        ok = w.match === undefined || w.match(msg);
      } catch (e) {
        // A throwing match fails its own receive; the message goes on to the others.
        this.#waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.reject(e);
        continue;
      }
      if (!ok) {
        i++;
        continue;
      }
      this.#waiters.splice(i, 1);
      clearTimeout(w.timer);
      w.resolve(msg);
      return;
    }
    if (this.size >= this.#max) {
      this.dropped++;
      return;
    }
    this.#items.push(msg);
  }

  /** Takes the first message that matches, waiting as the options say. */
  receive<T = unknown>(options: ReceiveOptions<T> = {}): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closed);
    const { match, timeoutMs } = options;
    if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs))) {
      return Promise.reject(new TypeError(`timeoutMs must be a number, not ${timeoutMs}`));
    }
    let found;
    try {
      found = this.#take(match);
    } catch (e) {
      return Promise.reject(e);
    }
    if (found.ok) return Promise.resolve(found.value as T);
    if (timeoutMs !== undefined && timeoutMs <= 0) {
      return Promise.reject(new TimeoutError(`${this.#owner}: no matching message`));
    }
    return new Promise<T>((resolve, reject) => {
      const w: Waiter = {
        match,
        resolve: resolve as (m: unknown) => void,
        reject,
        timer: undefined,
      };
      // Infinity waits forever; timers past 2^31-1 ms would fire at once, so they re-arm.
      if (timeoutMs !== undefined && timeoutMs !== Infinity) {
        const deadline = Date.now() + timeoutMs;
        const arm = (ms: number) => {
          w.timer = setTimeout(() => {
            const left = deadline - Date.now();
            if (left > 0 && ms === MAX_TIMER_MS) return arm(Math.min(left, MAX_TIMER_MS));
            const i = this.#waiters.indexOf(w);
            if (i >= 0) this.#waiters.splice(i, 1);
            reject(
              new TimeoutError(`${this.#owner}: no matching message within ${timeoutMs} ms`),
            );
          }, ms);
        };
        arm(Math.min(timeoutMs, MAX_TIMER_MS));
      }
      this.#waiters.push(w);
    });
  }

  /**
   * Removes every queued message for which `match` returns true (e.g. a `DOWN`
   * for a monitor just removed) and returns how many went.
   */
  discard(match: (msg: unknown) => boolean): number {
    const kept: unknown[] = [];
    let removed = 0;
    for (let i = this.#head; i < this.#items.length; i++) {
      const m = this.#items[i];
      if (match(m)) removed++;
      else kept.push(m);
    }
    if (removed > 0) {
      this.#items = kept;
      this.#head = 0;
    }
    return removed;
  }

  #take(match: ((msg: unknown) => boolean) | undefined): { ok: boolean; value?: unknown } {
    const items = this.#items;
    if (this.#head === items.length) return { ok: false };
    if (!match) return { ok: true, value: this.#shift() };
    for (let i = this.#head; i < items.length; i++) {
      if (match(items[i])) {
        const value = items[i];
        if (i === this.#head) this.#shift();
        else items.splice(i, 1);
        return { ok: true, value };
      }
    }
    return { ok: false };
  }

  #shift(): unknown {
    const value = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return value;
  }

  /** Ends the mailbox: waiting and later receives reject with `reason` (default NoProcError). */
  close(reason?: Error): void {
    if (this.#closed) return;
    this.#closed = reason ?? new NoProcError(`${this.#owner} has exited`);
    this.#items = [];
    this.#head = 0;
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(this.#closed);
    }
  }
}

const MAX_TIMER_MS = 2 ** 31 - 1;
