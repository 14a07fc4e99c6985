import type { Counter } from 'prom-client';
import type { ApplyOutcome, RuntimeObserver } from '../runtime/observer.ts';
import type { ShardlineInstruments } from './instruments.ts';

type CounterChild = ReturnType<Counter['labels']>;

/**
 * The runtime's hooks, recorded into prom-client instruments. Label children are looked up
 * once and cached (the domain and transport labels never change within a process), so a
 * hook costs a map lookup and an increment; the per-command end-to-end latency goes
 * straight to a cached histogram child.
 */
export class MetricsObserver implements RuntimeObserver {
  readonly #instruments: ShardlineInstruments;
  readonly #domain: string;
  readonly #transport: string;
  readonly #enqueued = new Map<string, CounterChild>();
  readonly #applied = new Map<string, Map<ApplyOutcome, CounterChild>>();
  readonly #deadLetters = new Map<string, CounterChild>();
  readonly #endToEnd;
  readonly #applyDuration;
  readonly #batchSize;
  readonly #backpressureWait;
  readonly #staleEpoch;
  readonly #followUpsForced;
  readonly #gained;
  readonly #lost;
  readonly #full;
  readonly #timeout;

  constructor(instruments: ShardlineInstruments) {
    const { domain, transport } = instruments.labels;
    this.#instruments = instruments;
    this.#domain = domain;
    this.#transport = transport;
    this.#endToEnd = instruments.endToEnd.labels(domain, transport);
    this.#applyDuration = instruments.applyDuration.labels(domain, transport);
    this.#batchSize = instruments.batchSize.labels(domain, transport);
    this.#backpressureWait = instruments.backpressureWait.labels(domain, transport);
    this.#staleEpoch = instruments.staleEpoch.labels(domain, transport);
    this.#followUpsForced = instruments.followUpsForced.labels(domain, transport);
    this.#gained = instruments.ownershipChanges.labels(domain, transport, 'gained');
    this.#lost = instruments.ownershipChanges.labels(domain, transport, 'lost');
    this.#full = instruments.enqueueRejected.labels(domain, transport, 'full');
    this.#timeout = instruments.enqueueRejected.labels(domain, transport, 'timeout');
  }

  enqueued(type: string, count: number): void {
    let child = this.#enqueued.get(type);
    if (child === undefined) {
      child = this.#instruments.enqueued.labels(this.#domain, this.#transport, type);
      this.#enqueued.set(type, child);
    }
    child.inc(count);
  }

  enqueueRefused(_shard: number, reason: 'full' | 'timeout'): void {
    (reason === 'full' ? this.#full : this.#timeout).inc();
  }

  backpressureWait(seconds: number): void {
    this.#backpressureWait.observe(seconds);
  }

  applied(type: string, outcome: ApplyOutcome, count: number): void {
    let byOutcome = this.#applied.get(type);
    if (byOutcome === undefined) {
      byOutcome = new Map();
      this.#applied.set(type, byOutcome);
    }
    let child = byOutcome.get(outcome);
    if (child === undefined) {
      child = this.#instruments.applied.labels(this.#domain, this.#transport, type, outcome);
      byOutcome.set(outcome, child);
    }
    child.inc(count);
  }

  batch(_shard: number, size: number, seconds: number): void {
    this.#batchSize.observe(size);
    this.#applyDuration.observe(seconds);
  }

  endToEnd(seconds: number): void {
    this.#endToEnd.observe(seconds);
  }

  ownership(_shard: number, _epoch: number, event: 'gained' | 'lost'): void {
    (event === 'gained' ? this.#gained : this.#lost).inc();
  }

  followUpsForced(_shard: number, count: number): void {
    this.#followUpsForced.inc(count);
  }

  staleEpoch(_shard: number): void {
    this.#staleEpoch.inc();
  }

  deadLettered(_shard: number, type: string | undefined): void {
    const name = type ?? 'unknown';
    let child = this.#deadLetters.get(name);
    if (child === undefined) {
      child = this.#instruments.deadLetters.labels(this.#domain, this.#transport, name);
      this.#deadLetters.set(name, child);
    }
    child.inc();
  }
}
