import type { BucketHistogram } from '../metrics/bucket-histogram.ts';

/**
 * The 99th percentile of what a {@link BucketHistogram} observed over a sliding window,
 * from its cumulative buckets sampled once per tick: the upper bound of the bucket that
 * holds the 99th percentile, in milliseconds. `null` when nothing was observed in the window.
 */
export class WindowedP99 {
  readonly #histogram: BucketHistogram;
  readonly #samples: { bound: number; cumulative: number }[][] = [];
  readonly #windowTicks: number;

  constructor(histogram: BucketHistogram, windowTicks: number) {
    this.#histogram = histogram;
    this.#windowTicks = windowTicks;
  }

  /** Samples the histogram now and returns the p99 (ms) of the window that ends here. */
  async sample(): Promise<number | null> {
    const { values } = await this.#histogram.get();
    const buckets = values
      .filter((value) => value.metricName.endsWith('_bucket'))
      .map((value) => ({ bound: value.labels.le === '+Inf' ? Infinity : Number(value.labels.le), cumulative: value.value }));
    this.#samples.push(buckets);
    if (this.#samples.length > this.#windowTicks + 1) this.#samples.shift();
    const first = this.#samples[0]!;
    const counts = buckets.map((bucket, i) => bucket.cumulative - (first[i]?.cumulative ?? 0));
    const total = counts[counts.length - 1] ?? 0;
    if (total <= 0) return null;
    const index = counts.findIndex((count) => count >= total * 0.99);
    const bound = buckets[index]!.bound;
    return Number.isFinite(bound) ? bound * 1000 : buckets[index - 1]!.bound * 1000;
  }
}
