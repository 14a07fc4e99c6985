/**
 * What metrics cost on the hot path: the memory-transport pipeline (producer → shard
 * queues → owners) run with no metrics and with the full prom-client observer, in
 * alternating rounds in one process, on the same commands; prints, as JSON, the median
 * throughput and CPU time per command of each, and the medians of the per-round ratios
 * (on / off). Timing lives here, not in tests.
 *
 *   node --import tsx src/cli/metrics-overhead.ts [--commands 200000] [--rounds 5]
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { parseChecked } from '../config/issues.ts';
import { ShardlineInstruments } from '../metrics/instruments.ts';
import { MetricsObserver } from '../metrics/metrics-observer.ts';
import { combineObservers, type RuntimeObserver } from '../runtime/observer.ts';
import { Owner } from '../runtime/owner.ts';
import { Producer } from '../runtime/producer.ts';
import { MemoryTransport } from '../transports/memory/memory-transport.ts';
import { counters } from '../bench/counter-domain.ts';

const SHARDS = 8;
const ACCOUNTS = 10_000;
const BATCH = 1024;
const SEND_TASKS = 64;

type Mode = 'batched' | 'per-command';

/** One run: wall-clock throughput, and CPU time per command (steadier on a shared machine). */
interface Measurement {
  readonly perSec: number;
  readonly cpuUsPerCommand: number;
}

/**
 * The instruments of this process, made once as a shardline process makes them (default
 * process metrics included: they watch GC and the event loop for the whole process and
 * cannot be stopped, so a fresh set per run would pile up).
 */
const shared = new ShardlineInstruments({ domain: counters.name, transport: 'memory' });

/** Runs `commands` adds through the pipeline, with or without metrics. */
async function run(mode: Mode, commands: number, metrics: boolean): Promise<Measurement> {
  const transport = new MemoryTransport({ shards: SHARDS, capacity: 4096 });
  let applied = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const count = (outcome: string, n: number): void => {
    if (outcome !== 'ok') return;
    applied += n;
    if (applied >= commands) done();
  };
  let observer: RuntimeObserver = { applied: (_type, outcome, n) => count(outcome, n) };
  let instruments: ShardlineInstruments | undefined;
  if (metrics) {
    instruments = shared;
    const recorder = new MetricsObserver(instruments);
    observer = combineObservers(recorder, observer);
  }
  const owner = new Owner({ domain: counters, transport, observer });
  const producer = new Producer({ domain: counters, transport, observer });
  await owner.start();
  const info = await transport.connect();
  instruments?.watchQueues({ shardCount: info.shardCount, capacity: info.capacity, depth: (shard) => transport.depth(shard) });
  const key = (i: number) => `acct-${(i * 7919) % ACCOUNTS}`;
  const started = performance.now();
  const cpu = process.cpuUsage();
  if (mode === 'batched') {
    for (let start = 0; start < commands; start += BATCH) {
      const batch = [];
      for (let i = start; i < Math.min(start + BATCH, commands); i++) batch.push({ type: 'add' as const, key: key(i), payload: { by: 1 } });
      await producer.sendMany(batch);
    }
  } else {
    await Promise.all(
      Array.from({ length: SEND_TASKS }, async (_, task) => {
        for (let i = task; i < commands; i += SEND_TASKS) await producer.send('add', key(i), { by: 1 });
      }),
    );
  }
  await finished;
  const used = process.cpuUsage(cpu);
  const measurement = {
    perSec: commands / ((performance.now() - started) / 1000),
    cpuUsPerCommand: (used.user + used.system) / commands,
  };
  if (instruments !== undefined) await instruments.metrics();
  await producer.close();
  await owner.close();
  await transport.close();
  return measurement;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const { values } = parseArgs({ options: { commands: { type: 'string' }, rounds: { type: 'string' } } });
const options = parseChecked(
  z.strictObject({ commands: z.number().int().positive().default(200_000), rounds: z.number().int().positive().max(50).default(5) }),
  {
    commands: values.commands === undefined ? undefined : Number(values.commands),
    rounds: values.rounds === undefined ? undefined : Number(values.rounds),
  },
);
const report: Record<string, unknown> = { node: process.version, commands: options.commands, rounds: options.rounds };
for (const mode of ['batched', 'per-command'] as const) {
  await run(mode, Math.min(options.commands, 20_000), true);
  const off: Measurement[] = [];
  const on: Measurement[] = [];
  for (let round = 0; round < options.rounds; round++) {
    // Alternate the order so drift (JIT, GC, a noisy neighbour) hits both sides alike.
    if (round % 2 === 0) {
      off.push(await run(mode, options.commands, false));
      on.push(await run(mode, options.commands, true));
    } else {
      on.push(await run(mode, options.commands, true));
      off.push(await run(mode, options.commands, false));
    }
  }
  const round3 = (x: number) => Math.round(x * 1000) / 1000;
  report[mode] = {
    offPerSec: Math.round(median(off.map((m) => m.perSec))),
    onPerSec: Math.round(median(on.map((m) => m.perSec))),
    throughputRatioOnToOff: round3(median(on.map((m, i) => m.perSec / off[i]!.perSec))),
    offCpuUsPerCommand: round3(median(off.map((m) => m.cpuUsPerCommand))),
    onCpuUsPerCommand: round3(median(on.map((m) => m.cpuUsPerCommand))),
    cpuRatioOnToOff: round3(median(on.map((m, i) => m.cpuUsPerCommand / off[i]!.cpuUsPerCommand))),
  };
}
process.stdout.write(`${JSON.stringify(report)}\n`);
