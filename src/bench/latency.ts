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

/** The percentiles every bench row reports, in milliseconds. */
export interface Percentiles {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
}

/** p50, p99 and p99.9 of `latency`. */
export function percentiles(latency: { percentile(p: number): number }): Percentiles {
  return { p50Ms: latency.percentile(50), p99Ms: latency.percentile(99), p999Ms: latency.percentile(99.9) };
}
