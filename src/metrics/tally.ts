import type { Counter } from 'prom-client';

/**
 * One counter series counted as a plain number on the hot path and added to its
 * prom-client counter when the registry is scraped. prom-client's `inc`, even on a cached
 * label child, hashes and validates the labels on every call; a tally costs one addition.
 */
export class Tally {
  /** Counted since the last scrape. */
  pending = 0;
  readonly #child: { inc(value: number): void };

  constructor(counter: Counter, labelValues: readonly string[]) {
    this.#child = counter.labels(...labelValues);
    // Export the series at 0 from the start, so `rate()` sees its first increase.
    this.#child.inc(0);
  }

  /** Adds what was counted since the last scrape to the prom-client counter. */
  flush(): void {
    if (this.pending === 0) return;
    this.#child.inc(this.pending);
    this.pending = 0;
  }
}
