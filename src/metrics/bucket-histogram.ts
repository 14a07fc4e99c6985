import type { Metric, Registry } from 'prom-client';

/** One exported sample, in the shape prom-client's registry serialises. */
interface Sample {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName: string;
}

/**
 * A Prometheus histogram with one fixed label set, for observations made once per
 * command. prom-client's `Histogram` hashes and validates the label set on every
 * `observe`, even through a cached child, which costs more than applying a command;
 * here an observation is a bucket search and two additions into a `Float64Array`.
 * It registers itself on a prom-client `Registry` (the same `get()` contract prom-client's
 * own metrics implement), so it is served with them and in the same text format.
 */
export class BucketHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly #labels: Readonly<Record<string, string>>;
  readonly #bounds: Float64Array;
  /** Per bucket (not cumulative), the last slot is +Inf. */
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(options: { name: string; help: string; buckets: readonly number[]; labels: Readonly<Record<string, string>>; registry: Registry }) {
    const sorted = [...options.buckets].sort((a, b) => a - b);
    this.name = options.name;
    this.help = options.help;
    this.#labels = options.labels;
    this.#bounds = Float64Array.from(sorted);
    this.#counts = new Float64Array(sorted.length + 1);
    options.registry.registerMetric(this as unknown as Metric);
  }

  /** Records one value (seconds, commands, ...). */
  observe(value: number): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.#counts[i]!++;
    this.#sum += value;
    this.#count++;
  }

  /** Observations so far (for tests and summaries). */
  get count(): number {
    return this.#count;
  }

  /** The cumulative buckets, sum and count, as prom-client's registry reads every metric. */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Sample[] }> {
    const values: Sample[] = [];
    let cumulative = 0;
    this.#bounds.forEach((bound, i) => {
      cumulative += this.#counts[i]!;
      values.push({ labels: { ...this.#labels, le: bound }, value: cumulative, metricName: `${this.name}_bucket` });
    });
    values.push({ labels: { ...this.#labels, le: '+Inf' }, value: this.#count, metricName: `${this.name}_bucket` });
    values.push({ labels: this.#labels, value: this.#sum, metricName: `${this.name}_sum` });
    values.push({ labels: this.#labels, value: this.#count, metricName: `${this.name}_count` });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Forgets every observation (prom-client calls it on `registry.resetMetrics()`). */
  reset(): void {
    this.#counts.fill(0);
    this.#sum = 0;
    this.#count = 0;
  }
}
