import { NoProcError, TimeoutError } from "../errors.ts";

/** Options for a single receive. */
export interface ReceiveOptions<T = unknown> {
  /** Only a message for which this returns true is taken; others stay, in order. */
  match?: (msg: unknown) => boolean;
  /** Rejects with `TimeoutError` after this many ms; 0 polls; absent waits forever. */
  timeoutMs?: number;
  /** @internal type carrier */
  readonly _type?: T;
}

interface Waiter {
  match: ((msg: unknown) => boolean) | undefined;
  resolve(msg: unknown): void;
  reject(e: Error): void;
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
    for (let i = 0; i < this.#waiters.length; i++) {
      const w = this.#waiters[i]!;
      if (w.match && !safeMatch(w.match, msg)) continue;
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
    const found = this.#take(match);
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
      if (timeoutMs !== undefined) {
        w.timer = setTimeout(() => {
          const i = this.#waiters.indexOf(w);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(new TimeoutError(`${this.#owner}: no matching message within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.#waiters.push(w);
    });
  }

  #take(match: ((msg: unknown) => boolean) | undefined): { ok: boolean; value?: unknown } {
    const items = this.#items;
    if (this.#head === items.length) return { ok: false };
    if (!match) return { ok: true, value: this.#shift() };
    for (let i = this.#head; i < items.length; i++) {
      if (safeMatch(match, items[i])) {
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

// A match function that throws counts as "no match" rather than breaking delivery.
function safeMatch(match: (msg: unknown) => boolean, msg: unknown): boolean {
  try {
    return match(msg);
  } catch {
    return false;
  }
}
