/** Collects latency samples (milliseconds), at most `limit`, and reports percentiles. */
export class LatencyRecorder {
  readonly #samples: Float64Array;
  #count = 0;
  #seen = 0;

  constructor(limit = 1_000_000) {
    this.#samples = new Float64Array(limit);
  }

  /** Records one sample; past `limit`, keeps a uniform reservoir sample. */
  record(ms: number): void {
    this.#seen++;
    if (this.#count < this.#samples.length) {
      this.#samples[this.#count++] = ms;
      return;
    }
    const slot = Math.floor(Math.random() * this.#seen);
    if (slot < this.#samples.length) this.#samples[slot] = ms;
  }

  /** The `p`-th percentile (0–100) of what was recorded; 0 with no samples. */
  percentile(p: number): number {
    if (this.#count === 0) return 0;
    const sorted = this.#samples.slice(0, this.#count).sort();
    return sorted[Math.min(this.#count - 1, Math.floor((p / 100) * this.#count))]!;
  }
}
