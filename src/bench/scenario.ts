/**
 * What `shardline bench` runs. Every scenario applies the same workload — `commands`
 * increments of 1 (the `add` command of `counter-domain.ts`) spread over accounts by the
 * workload's key choice — so that lost updates (increments that should be there and are
 * not) and duplicates (increments applied twice) are counted the same way for a lock, a
 * queue or shardline: `expectedCounts` + `countAnomalies` in `workload.ts`. Latencies go
 * through `LatencyRecorder` (`latency.ts`).
 */

import type { OfferedRate } from './open-loop.ts';

/** The key choice of a workload. */
export type WorkloadName = 'uniform' | 'hot';

export interface Workload {
  readonly name: WorkloadName;
  /** How many deposit commands to apply. */
  readonly commands: number;
  /** How many distinct accounts exist. */
  readonly accounts: number;
  /** The account key of command `i` (deterministic: the same sequence for every scenario). */
  keyOf(i: number): string;
}

/** What a scenario may use; services are present only when reachable. */
export interface BenchContext {
  readonly workload: Workload;
  /** `REDIS_URL` when Redis answered a PING. */
  readonly redisUrl?: string;
  /** `KAFKA_BROKERS` when a broker answered. */
  readonly kafkaBrokers?: readonly string[];
  /**
   * Producer processes that send the workload (BullMQ, Kafka and the Python baseline); 0
   * sends from the measuring process. The memory transport lives in one process, so its
   * scenarios always send from the measuring process.
   */
  readonly producerProcesses: number;
  /** `--rate`: the offered load of an extra open-loop run of each shardline scenario. */
  readonly rate?: OfferedRate;
  /** Called with the number of commands done so far (drives the progress bar). */
  progress(done: number): void;
}

/** One scenario's measurements on one workload. */
export interface ScenarioResult {
  /** Defaults to the scenario's name; set it when one scenario measures several variants (`shardline-memory/per-command`). */
  readonly name?: string;
  readonly commandsPerSec: number;
  /** Commands whose effect is missing at the end. */
  readonly lostUpdates: number;
  /** Commands whose effect was applied more than once. */
  readonly duplicates: number;
  /** End-to-end latency (sent → applied) percentiles, milliseconds. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  /** Anything else worth printing (batch size, queue high-water mark, ...). */
  readonly notes?: Readonly<Record<string, number | string>>;
}

export interface Scenario {
  /** The name used with `--scenarios`. */
  readonly name: string;
  /** One line: what it does and why it is there. */
  readonly description: string;
  /** Services it cannot run without. */
  readonly needs: readonly ('redis' | 'kafka')[];
  run(context: BenchContext): Promise<ScenarioResult | readonly ScenarioResult[]>;
}
