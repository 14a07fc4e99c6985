import { percentiles, type Percentiles } from './latency.ts';
import type { Workload, WorkloadName } from './scenario.ts';

/** Deterministic 32-bit PRNG (mulberry32), so every scenario sees the same key sequence. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Zipf exponent of the hot workload: with 10,000 accounts the top 10 get about 77% of commands. */
export const HOT_ZIPF_EXPONENT = 1.5;

/**
 * Builds a workload: `uniform` spreads commands evenly over `accounts`; `hot` draws them
 * from a Zipf distribution so that most traffic lands on about ten accounts.
 */
export function makeWorkload(name: WorkloadName, commands: number, accounts = 10_000, seed = 42): Workload {
  const random = mulberry32(seed);
  const indexes = new Uint32Array(commands);
  if (name === 'uniform') {
    for (let i = 0; i < commands; i++) indexes[i] = Math.floor(random() * accounts);
  } else {
    const cdf = new Float64Array(accounts);
    let sum = 0;
    for (let k = 0; k < accounts; k++) cdf[k] = sum += 1 / (k + 1) ** HOT_ZIPF_EXPONENT;
    for (let i = 0; i < commands; i++) {
      const target = random() * sum;
      let lo = 0;
      let hi = accounts - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cdf[mid]! < target) lo = mid + 1;
        else hi = mid;
      }
      indexes[i] = lo;
    }
  }
  return { name, commands, accounts, keyOf: (i) => `acct-${indexes[i]}` };
}

/** How many `add` commands each key received: the expected final counters. */
export function expectedCounts(workload: Workload): Map<string, number> {
  const expected = new Map<string, number>();
  for (let i = 0; i < workload.commands; i++) {
    const key = workload.keyOf(i);
    expected.set(key, (expected.get(key) ?? 0) + 1);
  }
  return expected;
}

/** Compares final counters with the expected ones: missing effects and doubled effects. */
export function countAnomalies(
  expected: ReadonlyMap<string, number>,
  actual: ReadonlyMap<string, number>,
): { lostUpdates: number; duplicates: number } {
  let lostUpdates = 0;
  let duplicates = 0;
  for (const [key, want] of expected) {
    const got = actual.get(key) ?? 0;
    if (got < want) lostUpdates += want - got;
    else duplicates += got - want;
  }
  for (const [key, got] of actual) if (!expected.has(key)) duplicates += got;
  return { lostUpdates, duplicates };
}

/** A scenario's result from the expected and final counters, its latency samples and how long it ran. */
export function measuredResult(
  workload: Workload,
  expected: ReadonlyMap<string, number>,
  actual: ReadonlyMap<string, number>,
  latency: { percentile(p: number): number },
  seconds: number,
): { commandsPerSec: number; lostUpdates: number; duplicates: number } & Percentiles {
  return {
    commandsPerSec: workload.commands / seconds,
    ...countAnomalies(expected, actual),
    ...percentiles(latency),
  };
}

/**
 * The result of a scenario that kept its counters in a Map, measured from `startedMs`
 * (a `performance.now()` reading) to now.
 */
export function counterResult(
  workload: Workload,
  counters: ReadonlyMap<string, { value: number }>,
  latency: { percentile(p: number): number },
  startedMs: number,
): ReturnType<typeof measuredResult> {
  const seconds = (performance.now() - startedMs) / 1000;
  const actual = new Map([...counters].map(([key, s]) => [key, s.value]));
  return measuredResult(workload, expectedCounts(workload), actual, latency, seconds);
}
