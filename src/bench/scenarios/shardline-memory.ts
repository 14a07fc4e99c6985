import v8 from 'node:v8';
import vm from 'node:vm';
import { Producer } from '../../runtime/producer.ts';
import { MEMORY_DEFAULTS, MemoryTransport } from '../../transports/memory/memory-transport.ts';
import { StateCache } from '../../runtime/state-cache.ts';
import { counters } from '../counter-domain.ts';
import type { BenchContext, Scenario, ScenarioResult } from '../scenario.ts';
import { offeredPerSec } from '../open-loop.ts';
import { measureOneThreadBound } from '../one-thread-bound.ts';
import { measureShardline, sendBatches, type Load, type OpenLoad } from './shardline-run.ts';

const SHARDS = 8;
const CAPACITY = 4096;
/** Concurrent tasks calling `send` one command at a time (the per-command variant). */
const SEND_TASKS = 64;
/** Commands per `sendMany` call, and tasks making those calls (the batched variant). */
const BATCH = 1024;
const BATCH_TASKS = 4;

/** `send` one command at a time from `SEND_TASKS` tasks, task t sending commands t, t + SEND_TASKS, …. */
const sendEach: Load = async (producer, workload) => {
  await Promise.all(
    Array.from({ length: SEND_TASKS }, async (_, task) => {
      for (let i = task; i < workload.commands; i += SEND_TASKS) await producer.send('add', workload.keyOf(i), { by: 1 });
    }),
  );
};

/** With `--producer-processes`, why this scenario still sends from the measuring process. */
const IN_PROCESS = 'in-process: the memory transport cannot cross processes';

function measure(context: BenchContext, mode: 'batched' | 'per-command' | OpenLoad): Promise<ScenarioResult> {
  const transport = new MemoryTransport({ shards: SHARDS, capacity: CAPACITY });
  return measureShardline({
    context,
    name: typeof mode === 'object' ? 'shardline-memory/open-loop' : mode === 'batched' ? 'shardline-memory' : 'shardline-memory/per-command',
    ownerTransport: transport,
    load: typeof mode === 'object' ? mode : mode === 'batched' ? sendBatches(BATCH, BATCH_TASKS) : sendEach,
    notes: () => ({
      shards: SHARDS,
      capacity: CAPACITY,
      maxDepth: Math.max(...Array.from({ length: SHARDS }, (_, s) => transport.highWater(s))),
      ...(typeof mode === 'object' ? { offeredPerSec: mode.openLoopPerSec } : {}),
      ...(context.producerProcesses > 0 ? { producers: IN_PROCESS } : {}),
    }),
    close: () => transport.close(),
  });
}

/**
 * The batched variant's producer and owner timed apart (`one-thread-bound.ts`), as notes:
 * the most this scenario can apply with both on one thread. An owner that lost or doubled
 * a command there measured something else, and says so.
 */
async function oneThreadBound(context: BenchContext): Promise<Record<string, number>> {
  const bound = await measureOneThreadBound(context.workload, { shards: SHARDS, capacity: CAPACITY, deliverBatch: MEMORY_DEFAULTS.maxBatch, sendBatch: BATCH });
  if (bound.lostUpdates > 0 || bound.duplicates > 0) {
    throw new Error(`one-thread bound: the owner alone lost ${bound.lostUpdates} and doubled ${bound.duplicates} commands`);
  }
  return {
    producerAlonePerSec: Math.round(bound.producerPerSec),
    ownerAlonePerSec: Math.round(bound.ownerPerSec),
    oneThreadBoundPerSec: Math.round(bound.boundPerSec),
  };
}

const FULL_QUEUE = 100_000;
const CACHED_ENTITIES = 100_000;

/**
 * Heap bytes each of the items `fill` adds stays reachable for: the heap after a full
 * collection (`--expose-gc` set from inside) before and after `fill`, over the count it
 * returns. What `fill` builds must stay reachable until it returns the count.
 */
async function heapBytesPerItem(fill: () => Promise<number>): Promise<number> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage().heapUsed;
  const count = await fill();
  gc();
  return Math.round((process.memoryUsage().heapUsed - before) / count);
}

/**
 * Heap bytes one queued command costs: one memory-transport shard of capacity 100,000
 * filled with `add` commands through a producer. Includes the command, its payload, id
 * and slot.
 */
async function bytesPerQueuedCommand(context: BenchContext): Promise<number> {
  const transport = new MemoryTransport({ shards: 1, capacity: FULL_QUEUE });
  const producer = new Producer({ domain: counters, transport, followUpReserve: 0, maxBatch: 1000 });
  await producer.connect();
  const bytes = await heapBytesPerItem(async () => {
    for (let start = 0; start < FULL_QUEUE; start += 1000) {
      const batch = [];
      for (let i = start; i < start + 1000; i++) batch.push({ type: 'add' as const, key: context.workload.keyOf(i % context.workload.commands), payload: { by: 1 } });
      await producer.sendMany(batch);
    }
    return transport.depth(0);
  });
  await producer.close();
  await transport.close();
  return bytes;
}

/**
 * Heap bytes one entity costs in an owner's state cache (the default 100,000 entries,
 * full): its entry, its place in the shard's map, its key and its state, each made as an
 * owner on a Redis store gets them: the key from a decoded command, the state from the
 * store's JSON.
 */
async function bytesPerCachedEntity(): Promise<number> {
  const cache = new StateCache(CACHED_ENTITIES);
  const bytes = await heapBytesPerItem(async () => {
    for (let start = 0; start < CACHED_ENTITIES; start += 1000) {
      const keys = (JSON.parse(JSON.stringify(Array.from({ length: 1000 }, (_, i) => `account-${start + i}`))) as string[]);
      const found = new Map(keys.map((key, i) => [key, JSON.parse(`{"value":${start + i}}`) as unknown]));
      cache.loaded(0, keys, found);
    }
    return cache.size;
  });
  cache.drop(0);
  return bytes;
}

/**
 * shardline on the memory transport: `sendMany` batches, then one `send` per command from
 * many tasks, then (with `--rate`) an open loop of `send()` per command at that offered
 * load; last the one-thread bound of the batched variant and the bytes one queued command
 * and one cached entity cost. Always sent from the measuring process, whatever
 * `--producer-processes` says: the memory transport lives in one process.
 */
export const scenario: Scenario = {
  name: 'shardline-memory',
  description: `shardline, memory transport, ${SHARDS} shards: sendMany of ${BATCH} from ${BATCH_TASKS} tasks, and send() per command from ${SEND_TASKS} tasks`,
  needs: [],
  async run(context) {
    const batched = await measure(context, 'batched');
    const perCommand = await measure(context, 'per-command');
    const open = context.rate === undefined ? [] : [await measure(context, { openLoopPerSec: offeredPerSec(context.rate, batched.commandsPerSec) })];
    const notes = {
      ...batched.notes,
      ...(await oneThreadBound(context)),
      bytesPerQueuedCommand: await bytesPerQueuedCommand(context),
      bytesPerCachedEntity: await bytesPerCachedEntity(),
    };
    return [{ ...batched, notes }, perCommand, ...open];
  },
};
