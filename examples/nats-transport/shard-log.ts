import { headers, StorageType, type JetStreamClient, type JetStreamManager, type MsgHdrs, type MsgRequest, type StoredMsg } from 'nats';
import { ConfigError, ConnectionError, MAX_POSITION, ShardlineError } from '../../src/index.ts';
import { COUNT_HEADER, TOTAL_HEADER, type EncodedChunk } from './batch-codec.ts';
import { errorText } from './error-text.ts';
import { lookAgain, SETUP_ATTEMPTS } from './made-elsewhere.ts';
import type { Names } from './names.ts';
import type { NatsTransportSettings } from './options.ts';

/** JetStream's error code for a publish whose expected last subject sequence did not match. */
const WRONG_LAST_SEQUENCE = 10071;

/** The end of a shard's subject, as one enqueue attempt sees it. */
export interface ShardTail {
  /** Stream sequence of the shard's newest message; 0 when the subject holds none. */
  readonly lastSequence: number;
  /** Commands ever enqueued to the subject through that message. */
  readonly lastTotal: number;
  /** Unacknowledged commands. */
  readonly depth: number;
}

/** A stream message's counts, read from its headers; `undefined` when it has none of ours. */
export interface Counts {
  readonly count: number;
  readonly total: number;
}

/** The counts of a message shardline wrote, or `undefined` for anything else on the subject. */
export function countsOf(header: MsgHdrs | undefined): Counts | undefined {
  const count = Number(header?.get(COUNT_HEADER));
  const total = Number(header?.get(TOTAL_HEADER));
  if (!Number.isSafeInteger(count) || !Number.isSafeInteger(total) || count < 0 || total < count) return undefined;
  return { count, total };
}

/**
 * The stream side of the transport: one stream per domain, one subject per shard, one
 * stream message per enqueued batch. Acknowledged messages are purged, so a shard's
 * subject holds exactly its unacknowledged commands, plus at most one marker.
 *
 * Every message carries the running total of commands enqueued to its subject
 * (`Shardline-Total`), and is appended only if the subject's last message is still the one
 * the writer read (`expect.lastSubjectSequence`). Totals therefore grow by exactly each
 * message's count along the subject, positions are `total - count + index` (dense, never
 * reused), and depth = total of the newest message - total before the oldest one. Purges
 * only remove the oldest messages, so a depth read before an append is at least the depth
 * at the moment the append lands: the bound is never exceeded, and conservative by at
 * most what an owner acknowledged during the append.
 *
 * The subject never empties once written, or the next writer would restart the totals
 * (and the positions) from 0: acknowledging the newest message first appends a marker
 * (count 0, the same total) behind it, and the purge keeps the marker. Positions run out
 * at `MAX_POSITION` commands per shard over the stream's life (2^37: decades at a
 * hundred commands a second); past it an enqueue throws `POSITIONS_EXHAUSTED`.
 */
export class ShardLog {
  readonly #jsm: JetStreamManager;
  readonly #js: JetStreamClient;
  readonly #names: Names;
  readonly #settings: NatsTransportSettings;

  constructor(jsm: JetStreamManager, js: JetStreamClient, names: Names, settings: NatsTransportSettings) {
    this.#jsm = jsm;
    this.#js = js;
    this.#names = names;
    this.#settings = settings;
  }

  /**
   * Creates the domain's stream, or checks that an existing one was made with the same
   * shard count, capacity and position encoding (recorded in its description): processes
   * that disagree would route, bound or number commands differently.
   */
  async ensureStream(): Promise<void> {
    const { shards, capacity } = this.#settings;
    // `positions` names the encoding: a stream written with stream-sequence positions must
    // not be read with running totals (positions would go backwards against the store).
    const description = JSON.stringify({ shardline: { shards, capacity, positions: 'running-total' } });
    for (let attempt = 1; ; attempt++) {
      const found = await this.#jsm.streams.info(this.#names.stream).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw new ConnectionError(`JetStream stream ${this.#names.stream}`, errorText(error), { cause: error });
      });
      if (found !== undefined) {
        if (found.config.description !== description) {
          throw new ConfigError([
            `nats.shards, nats.capacity: expected stream ${this.#names.stream} to have been made with ${description}, got ${found.config.description ?? 'no description'}; use the same values, another prefix, or delete the stream (and reset the domain's state store, whose positions came from it)`,
          ]);
        }
        return;
      }
      try {
        await this.#jsm.streams.add({
          name: this.#names.stream,
          subjects: [this.#names.shardWildcard],
          description,
          storage: this.#settings.storage === 'memory' ? StorageType.Memory : StorageType.File,
          num_replicas: this.#settings.replicas,
        });
        return;
      } catch (error) {
        // A timed-out add may have made the stream all the same (its reply was lost, or a
        // busy server took longer than the request timeout), and another process may have
        // made it meanwhile (`lookAgain`): look again, which also checks what was made.
        if ((attempt < SETUP_ATTEMPTS && isTimeout(error)) || (await lookAgain(attempt, error))) continue;
        throw new ConnectionError(`JetStream stream ${this.#names.stream}`, `could not be created: ${errorText(error)}`, { cause: error });
      }
    }
  }

  /** Reads the shard's tail: its newest message and, for the depth, its oldest. */
  async tail(shard: number): Promise<ShardTail> {
    for (;;) {
      const last = await this.#read(shard, { last_by_subj: this.#names.shard(shard) });
      if (last === undefined) return { lastSequence: 0, lastTotal: 0, depth: 0 };
      const newest = countsOf(last.header);
      if (newest === undefined) {
        throw new ShardlineError(
          'FOREIGN_MESSAGE',
          `shard ${shard}: expected the newest message of ${this.#names.shard(shard)} to be one shardline wrote, got one without its counts (sequence ${last.seq}); the owner drops it when it gets there`,
          { retriable: true },
        );
      }
      const first = await this.#read(shard, { seq: 0, next_by_subj: this.#names.shard(shard) });
      // An oldest message newer than the last one read means an owner acknowledged in
      // between: read both again.
      if (first === undefined || first.seq > last.seq) continue;
      // A foreign message at the head has no counts: count the whole run as held (an over-estimate until it is dropped).
      const oldest = countsOf(first.header);
      const before = oldest === undefined ? 0 : oldest.total - oldest.count;
      return { lastSequence: last.seq, lastTotal: newest.total, depth: Math.max(0, newest.total - before) };
    }
  }

  /**
   * Appends one chunk after `tail`, or returns `conflict` when another message reached the
   * subject (or it was emptied) since `tail` was read. `msgId` makes a retried publish
   * whose first attempt was stored (its answer lost) count once.
   */
  async append(shard: number, chunk: EncodedChunk, tail: ShardTail, msgId: string): Promise<number | 'conflict'> {
    const total = tail.lastTotal + chunk.count;
    if (total - 1 > MAX_POSITION) {
      throw new ShardlineError(
        'POSITIONS_EXHAUSTED',
        `shard ${shard}: expected positions up to ${MAX_POSITION}, got ${total - 1}; recreate the stream and reset the domain's state store`,
      );
    }
    return this.#publish(shard, chunk.data, { count: chunk.count, total }, tail.lastSequence, msgId);
  }

  /**
   * Acknowledges every message of the shard up to and including `sequence`, whose total
   * is `total`. When nothing newer was seen, a marker carrying `total` is appended behind
   * it first (only if it is still the newest), so that the purge never empties the subject.
   */
  async acknowledge(shard: number, sequence: number, total: number, newerSeen: boolean): Promise<void> {
    const marker = newerSeen ? 'conflict' : await this.#publish(shard, new Uint8Array(0), { count: 0, total }, sequence, undefined);
    await this.#jsm.streams.purge(this.#names.stream, { filter: this.#names.shard(shard), seq: marker === 'conflict' ? sequence + 1 : marker });
  }

  async #publish(shard: number, data: Uint8Array, counts: Counts, after: number, msgId: string | undefined): Promise<number | 'conflict'> {
    const h = headers();
    h.set(COUNT_HEADER, String(counts.count));
    h.set(TOTAL_HEADER, String(counts.total));
    try {
      const ack = await this.#js.publish(this.#names.shard(shard), data, {
        headers: h,
        ...(msgId === undefined ? {} : { msgID: msgId }),
        expect: { lastSubjectSequence: after },
        timeout: this.#settings.requestTimeoutMs,
      });
      return ack.seq;
    } catch (error) {
      if ((error as { api_error?: { err_code?: number } }).api_error?.err_code === WRONG_LAST_SEQUENCE) return 'conflict';
      throw new ConnectionError(`JetStream publish to ${this.#names.shard(shard)}`, errorText(error), { cause: error });
    }
  }

  /**
   * One message through the stream leader (`STREAM.MSG.GET`), so reads are as fresh as the
   * appends they guard. The server (2.9+) also takes `{ seq, next_by_subj }`, the oldest
   * message of a subject at or after `seq`; the nats.js 2.x types only name the other forms.
   */
  async #read(shard: number, query: { last_by_subj: string } | { seq: number; next_by_subj: string }): Promise<StoredMsg | undefined> {
    try {
      return await this.#jsm.streams.getMessage(this.#names.stream, query as MsgRequest);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new ConnectionError(`JetStream read of shard ${shard}`, errorText(error), { cause: error });
    }
  }
}

function isTimeout(error: unknown): boolean {
  return (error as { code?: unknown }).code === 'TIMEOUT';
}

function isNotFound(error: unknown): boolean {
  const e = error as { code?: unknown; api_error?: { code?: number } };
  return String(e.code) === '404' || e.api_error?.code === 404;
}
