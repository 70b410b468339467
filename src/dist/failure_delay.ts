/** Options for {@linkcode FailureDelay}. */
export interface FailureDelayOptions {
  /** Delay after the first recent failure, in ms; it doubles with each more. Default 50. */
  baseMs?: number;
  /** Cap of the delay, in ms. Default 2000. */
  maxMs?: number;
  /** Failures further apart than this start the count again, in ms. Default 30 000. */
  memoryMs?: number;
}

/**
 * A growing, capped delay for repeated authentication failures, counted across every
 * connection it serves: tunnelled peers all come from 127.0.0.1, so there is no
 * address to count per.
 */
export class FailureDelay {
  readonly #base: number;
  readonly #max: number;
  readonly #memory: number;
  #failures = 0;
  #last = 0;

  constructor(options: FailureDelayOptions = {}) {
    this.#base = options.baseMs ?? 50;
    this.#max = options.maxMs ?? 2000;
    this.#memory = options.memoryMs ?? 30_000;
  }

  /** Records one failure and returns how long to hold its refusal, in ms. */
  next(): number {
    const now = Date.now();
    if (now - this.#last > this.#memory) this.#failures = 0;
    this.#last = now;
    this.#failures++;
    return Math.min(this.#max, this.#base * 2 ** Math.min(this.#failures - 1, 30));
  }
}
