/**
 * OTP's restart intensity: at most `intensity` restarts within `periodMs`.
 * Exits of several children caused by one lost connection count once.
 */
export class RestartIntensity {
  readonly intensity: number;
  readonly periodMs: number;
  readonly #now: () => number;
  #times: number[] = [];
  // Node names whose loss was already counted, with when.
  readonly #lostNodes = new Map<string, number>();

  constructor(intensity: number, periodMs: number, now: () => number = () => performance.now()) {
    this.intensity = intensity;
    this.periodMs = periodMs;
    this.#now = now;
  }

  /**
   * Records a restart and returns whether it is allowed. With `lostNode`, the
   * restart is caused by the loss of that node and is counted only the first time.
   */
  add(lostNode?: string): boolean {
    const now = this.#now();
    this.#times = this.#times.filter((t) => now - t <= this.periodMs);
    for (const [node, t] of this.#lostNodes) {
      if (now - t > this.periodMs) this.#lostNodes.delete(node);
    }
    if (lostNode !== undefined) {
      if (this.#lostNodes.has(lostNode)) return true;
      this.#lostNodes.set(lostNode, now);
    }
    this.#times.push(now);
    return this.#times.length <= this.intensity;
  }
}
