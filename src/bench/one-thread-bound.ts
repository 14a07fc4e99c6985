import { Owner } from '../runtime/owner.ts';
import { Producer } from '../runtime/producer.ts';
import type { Delivery, EnqueueResult, ShardGrant, ShardHandler, Subscription, Transport, TransportInfo, TransportMessage } from '../transports/transport.ts';
import { RingBuffer } from '../transports/memory/ring-buffer.ts';
import { counters } from './counter-domain.ts';
import { LatencyRecorder } from './latency.ts';
import type { Workload } from './scenario.ts';
import { sendRange } from './scenarios/shardline-run.ts';
import { countAnomalies, expectedCounts } from './workload.ts';

/** The memory transport's shape the bound is measured for: the scenario's own. */
export interface BoundShape {
  readonly shards: number;
  /** Per shard: the producer's reserve and largest enqueue follow from it. */
  readonly capacity: number;
  /** Most commands in one delivery. */
  readonly deliverBatch: number;
  /** Commands per `sendMany` call. */
  readonly sendBatch: number;
}

export interface OneThreadBound {
  /** Commands/s the producer checks, routes and enqueues when enqueueing costs nothing. */
  readonly producerPerSec: number;
  /** Commands/s the owner applies and commits when they are handed to it at no cost. */
  readonly ownerPerSec: number;
  /** 1 / (1/P + 1/O): the most a producer and an owner sharing one thread can apply. */
  readonly boundPerSec: number;
  /** The owner's store audited against the workload, as every scenario is. */
  readonly lostUpdates: number;
  readonly duplicates: number;
}

/** Commands made, then applied, per step: a step's commands wait in the rings in between. */
const STEP = 32_768;

/**
 * The transport between the two halves: `enqueueNow` appends to a ring per shard and never
 * refuses; nothing reads the rings until `drain` hands them to the subscribed handler.
 */
class SplitTransport implements Transport {
  readonly name = 'split';
  readonly rings: RingBuffer[];
  readonly #info: TransportInfo;
  #handler: ShardHandler | undefined;

  constructor(info: TransportInfo) {
    this.#info = info;
    this.rings = Array.from({ length: info.shardCount }, () => new RingBuffer(STEP));
  }

  async connect(): Promise<TransportInfo> {
    return this.#info;
  }

  enqueueNow(shard: number, messages: readonly TransportMessage[]): boolean {
    const ring = this.rings[shard]!;
    for (const message of messages) ring.push(message);
    return true;
  }

  async enqueue(shard: number, messages: readonly TransportMessage[]): Promise<EnqueueResult> {
    this.enqueueNow(shard, messages);
    return { waitedMs: 0 };
  }

  async depth(shard: number): Promise<number> {
    return this.rings[shard]!.size;
  }

  async consume(handler: ShardHandler): Promise<Subscription> {
    this.#handler = handler;
    return { owned: () => [], close: async () => {} };
  }

  /** Grants every shard to the subscribed handler. */
  async grantAll(): Promise<ShardGrant[]> {
    const grants = Array.from({ length: this.#info.shardCount }, (_, shard) => ({ shard, epoch: 1 }));
    for (const grant of grants) await this.#handler!.assigned(grant);
    return grants;
  }

  /** Delivers every ring's messages, a batch of at most `max` per shard in turn, acknowledging each. */
  async drain(grants: readonly ShardGrant[], max: number): Promise<void> {
    for (let left = true; left; ) {
      left = false;
      for (const grant of grants) {
        const ring = this.rings[grant.shard]!;
        const batch: Delivery[] = ring.peek(0, max);
        if (batch.length === 0) continue;
        await this.#handler!.deliver(grant, batch);
        ring.dropThrough(batch[batch.length - 1]!.position);
        left = true;
      }
    }
  }

  async close(): Promise<void> {}
}

/**
 * shardline-memory's producer and owner timed apart on `workload`: step by step, the
 * producer `sendMany`s 32,768 commands (batches built as the scenario builds them) into
 * rings nobody reads, then the owner gets them from those rings in the memory transport's
 * deliveries, shard by shard. Only the producer's calls count for P and only the
 * deliveries for O. The owner counts end-to-end latency as in the scenario, so both halves
 * do the scenario's work and nothing else.
 */
export async function measureOneThreadBound(workload: Workload, shape: BoundShape): Promise<OneThreadBound> {
  const transport = new SplitTransport({ shardCount: shape.shards, capacity: shape.capacity });
  const latency = new LatencyRecorder();
  const owner = new Owner({ domain: counters, transport, observer: { endToEnd: (seconds) => latency.record(seconds * 1000) } });
  const producer = new Producer({ domain: counters, transport });
  let producing = 0;
  let owning = 0;
  try {
    await owner.start();
    await producer.connect();
    const grants = await transport.grantAll();
    for (let step = 0; step < workload.commands; step += STEP) {
      const end = Math.min(step + STEP, workload.commands);
      const produced = performance.now();
      for (let start = step; start < end; start += shape.sendBatch) await sendRange(producer, workload, start, Math.min(start + shape.sendBatch, end));
      const applied = performance.now();
      await transport.drain(grants, shape.deliverBatch);
      owning += performance.now() - applied;
      producing += applied - produced;
    }
    const actual = new Map<string, number>();
    for await (const [key, state] of owner.store.entries()) actual.set(key, (state as { value: number }).value);
    const producerPerSec = workload.commands / (producing / 1000);
    const ownerPerSec = workload.commands / (owning / 1000);
    return {
      producerPerSec,
      ownerPerSec,
      boundPerSec: 1 / (1 / producerPerSec + 1 / ownerPerSec),
      ...countAnomalies(expectedCounts(workload), actual),
    };
  } finally {
    await producer.close();
    await owner.close();
  }
}
