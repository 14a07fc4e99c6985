import { counters } from '../counter-domain.ts';
import { LatencyRecorder } from '../latency.ts';
import type { Scenario } from '../scenario.ts';
import { counterResult } from '../workload.ts';

/** Producer tasks, as in the shardline scenarios. */
const PRODUCER_TASKS = 64;
const CAPACITY = 4096;

/**
 * The textbook producer–consumer buffer: `await put(item)` waits while full, `await take()`
 * while empty, one item per await on both sides.
 */
class BoundedQueue<T> {
  readonly #items: T[] = [];
  readonly #capacity: number;
  readonly #putWaiters: (() => void)[] = [];
  readonly #takeWaiters: ((item: T) => void)[] = [];

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  async put(item: T): Promise<void> {
    while (this.#items.length >= this.#capacity) await new Promise<void>((resolve) => this.#putWaiters.push(resolve));
    const taker = this.#takeWaiters.shift();
    if (taker !== undefined) taker(item);
    else this.#items.push(item);
  }

  async take(): Promise<T> {
    if (this.#items.length > 0) {
      const item = this.#items.shift()!;
      this.#putWaiters.shift()?.();
      return item;
    }
    return new Promise<T>((resolve) => this.#takeWaiters.push(resolve));
  }
}

interface Item {
  readonly key: string;
  readonly payload: { by: number };
  readonly sentAt: number;
}

/** The textbook bounded buffer between producer tasks and one consumer, awaited per item. */
export const scenario: Scenario = {
  name: 'naive-bounded-queue',
  description: `${PRODUCER_TASKS} producer tasks await put() per command into a bounded buffer (${CAPACITY}); one consumer awaits take() and applies`,
  needs: [],
  async run({ workload, progress }) {
    const schema = counters.schemas.add;
    const add = counters.handlers.add;
    const queue = new BoundedQueue<Item>(CAPACITY);
    const state = new Map<string, { value: number }>();
    const latency = new LatencyRecorder();
    const started = performance.now();
    const producers = Array.from({ length: PRODUCER_TASKS }, async (_, task) => {
      for (let i = task; i < workload.commands; i += PRODUCER_TASKS) {
        await queue.put({ key: workload.keyOf(i), payload: schema.parse({ by: 1 }), sentAt: performance.now() });
      }
    });
    for (let n = 0; n < workload.commands; n++) {
      const item = await queue.take();
      state.set(item.key, add(state.get(item.key) ?? counters.initial(item.key), item.payload).state);
      latency.record(performance.now() - item.sentAt);
      if ((n & 0xffff) === 0) progress(n);
    }
    await Promise.all(producers);
    const result = counterResult(workload, state, latency, started);
    progress(workload.commands);
    return result;
  },
};
