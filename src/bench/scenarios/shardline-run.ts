import { Owner } from '../../runtime/owner.ts';
import { Producer, type ProducerOptions } from '../../runtime/producer.ts';
import type { StateStore } from '../../state/state-store.ts';
import type { Transport } from '../../transports/transport.ts';
import { counters, scheduledCounters, type Counters } from '../counter-domain.ts';
import { LatencyRecorder, percentiles } from '../latency.ts';
import { runOpenLoop, ScheduledLatency } from '../open-loop.ts';
import type { BenchContext, ScenarioResult, Workload } from '../scenario.ts';
import { countAnomalies, expectedCounts } from '../workload.ts';

/** Sends the whole workload with a connected producer. */
export type Load = (producer: Producer<Counters>, workload: Workload) => Promise<void>;

/** An open loop: one `send()` per command on a fixed schedule, latency measured from the schedule (`open-loop.ts`). */
export interface OpenLoad {
  readonly openLoopPerSec: number;
}

/** One `sendMany` of the workload's commands `from` to `to` (exclusive); the first refused command is thrown. */
export async function sendRange(producer: Producer<Counters>, workload: Workload, from: number, to: number): Promise<void> {
  const batch = [];
  for (let i = from; i < to; i++) batch.push({ type: 'add' as const, key: workload.keyOf(i), payload: { by: 1 } });
  const refused = (await producer.sendMany(batch)).find((outcome) => !outcome.ok);
  if (refused !== undefined && !refused.ok) throw refused.error;
}

/**
 * `sendMany` of `size` commands from `tasks` tasks, task t sending batches t, t + tasks, …;
 * the first refused command is thrown.
 */
export function sendBatches(size: number, tasks: number): Load {
  return async (producer, workload) => {
    await Promise.all(
      Array.from({ length: tasks }, async (_, task) => {
        for (let start = task * size; start < workload.commands; start += size * tasks) {
          await sendRange(producer, workload, start, Math.min(start + size, workload.commands));
        }
      }),
    );
  };
}

/** What one run counted, for its notes. */
export interface RunCounts {
  /** Commands applied. */
  readonly applied: number;
  /** Batches the owner applied. */
  readonly batches: number;
}

export interface ShardlineRun {
  readonly context: BenchContext;
  /** The result's name; omitted, the scenario's. */
  readonly name?: string;
  readonly ownerTransport: Transport;
  /** The producer's transport; omitted, the owner's. */
  readonly producerTransport?: Transport;
  /** The owner's store; omitted, a memory store. */
  readonly store?: StateStore;
  /** Producer settings and observer. */
  readonly producer?: Omit<ProducerOptions<Counters>, 'domain' | 'transport'>;
  readonly load: Load | OpenLoad;
  /** After the owner started and the producer connected, before the clock starts. */
  readonly beforeClock?: (owner: Owner<Counters>) => Promise<void>;
  /** The result's notes, read when every command was applied, before anything closes. */
  notes(counts: RunCounts): Readonly<Record<string, number | string>>;
  /** Closes the transports and whatever else the scenario opened, after the producer and the owner. */
  close(): Promise<void>;
}

/**
 * One shardline bench run: starts an owner of the counter domain that counts applied
 * commands, batches and end-to-end latency, connects a producer, sends the workload with
 * `load` and waits until every command was applied; then reads the store for lost updates
 * and duplicates. An open-loop `load` measures latency from each command's scheduled time
 * to its commit instead of from its `sentAt`. Closes the producer, the owner and then `close()` whether or not it
 * succeeded.
 */
export async function measureShardline(run: ShardlineRun): Promise<ScenarioResult> {
  const { context, ownerTransport } = run;
  const { workload, progress } = context;
  const scheduled = 'openLoopPerSec' in run.load ? new ScheduledLatency() : undefined;
  const latency = scheduled?.recorder ?? new LatencyRecorder();
  let applied = 0;
  let batches = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const owner = new Owner({
    domain: scheduled === undefined ? counters : scheduledCounters(scheduled.applied),
    transport: ownerTransport,
    store: run.store,
    observer: {
      applied(_type, outcome, count) {
        if (outcome !== 'ok') return;
        applied += count;
        progress(applied);
        if (applied >= workload.commands) finish();
      },
      batch(shard) {
        batches++;
        scheduled?.committed(shard);
      },
      ...(scheduled === undefined ? { endToEnd: (seconds: number) => latency.record(seconds * 1000) } : {}),
    },
  });
  const producer = new Producer({ ...run.producer, domain: counters, transport: run.producerTransport ?? ownerTransport });
  try {
    await owner.start();
    await producer.connect();
    await run.beforeClock?.(owner);
    const started = performance.now();
    const { load } = run;
    if ('openLoopPerSec' in load) await sendOpenLoop(producer, workload, load.openLoopPerSec);
    else await load(producer, workload);
    await finished;
    const seconds = (performance.now() - started) / 1000;
    const actual = new Map<string, number>();
    for await (const [key, state] of owner.store.entries()) actual.set(key, (state as { value: number }).value);
    return {
      ...(run.name === undefined ? {} : { name: run.name }),
      commandsPerSec: workload.commands / seconds,
      ...countAnomalies(expectedCounts(workload), actual),
      ...percentiles(latency),
      notes: run.notes({ applied, batches }),
    };
  } finally {
    await producer.close();
    await owner.close();
    await run.close();
  }
}

/** `send()` of command i at its time on the schedule, carrying that time as `at`. */
function sendOpenLoop(producer: Producer<Counters>, workload: Workload, ratePerSec: number): Promise<void> {
  return runOpenLoop({
    ratePerSec,
    count: workload.commands,
    send: (i, scheduledMs) => producer.send('add', workload.keyOf(i), { by: 1, at: ScheduledLatency.epochMs(scheduledMs) }),
  });
}
