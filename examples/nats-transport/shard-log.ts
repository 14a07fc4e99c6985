import { headers, StorageType, type JetStreamClient, type JetStreamManager, type MsgRequest, type StoredMsg } from 'nats';
import { ConfigError, ConnectionError } from '../../src/index.ts';
import { COUNT_HEADER, TOTAL_HEADER, type EncodedChunk } from './batch-codec.ts';
import { errorText } from './error-text.ts';
import type { Names } from './names.ts';
import type { NatsTransportSettings } from './options.ts';

/** JetStream's error code for a publish whose expected last subject sequence did not match. */
const WRONG_LAST_SEQUENCE = 10071;

/** The end of a shard's subject, as one enqueue attempt sees it. */
export interface ShardTail {
  /** Stream sequence of the shard's newest message; 0 when the subject holds none. */
  readonly lastSequence: number;
  /** Commands ever enqueued through that message, in the current run of the subject. */
  readonly lastTotal: number;
  /** Unacknowledged commands: exact, or an upper bound when it was enough to know it fits. */
  readonly depth: number;
}

/**
 * The stream side of the transport: one stream per domain, one subject per shard, one
 * stream message per enqueued batch. Acknowledged messages are purged, so a shard's
 * subject holds exactly its unacknowledged commands.
 *
 * Every message carries the running total of commands enqueued to its subject
 * (`Shardline-Total`), and is appended only if the subject's last message is still the one
 * the writer read (`expect.lastSubjectSequence`). Totals therefore grow by exactly each
 * message's count along the subject, and depth = total of the newest message − total
 * before the oldest one. Purges only remove the oldest messages, so a depth read before an
 * append is at least the depth at the moment the append lands: the bound is exact, never
 * exceeded, and conservative by at most what an owner acknowledged during the append.
 * When the subject empties, totals restart from 0; an append that read the old last
 * message then fails its expectation, so an old and a new run never mix.
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
   * shard count and capacity (they are recorded in its description): processes that
   * disagree on either would route or bound differently.
   */
  async ensureStream(): Promise<void> {
    const { shards, capacity } = this.#settings;
    const description = JSON.stringify({ shardline: { shards, capacity } });
    const found = await this.#jsm.streams.info(this.#names.stream).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw new ConnectionError(`JetStream stream ${this.#names.stream}`, errorText(error), { cause: error });
    });
    if (found !== undefined) {
      if (found.config.description !== description) {
        throw new ConfigError([
          `nats.shards, nats.capacity: expected stream ${this.#names.stream} to have been made with ${description}, got ${found.config.description ?? 'no description'}; use the same values, another prefix, or delete the stream`,
        ]);
      }
      return;
    }
    await this.#jsm.streams
      .add({
        name: this.#names.stream,
        subjects: [this.#names.shardWildcard],
        description,
        storage: this.#settings.storage === 'memory' ? StorageType.Memory : StorageType.File,
        num_replicas: this.#settings.replicas,
      })
      .catch((error: unknown) => {
        throw new ConnectionError(`JetStream stream ${this.#names.stream}`, `could not be created: ${errorText(error)}`, { cause: error });
      });
  }

  /**
   * Reads the shard's tail. When the newest total alone shows that `wanted` more commands
   * fit (the depth cannot exceed it), the oldest message is not read.
   */
  async tail(shard: number, wanted = Number.POSITIVE_INFINITY): Promise<ShardTail> {
    for (;;) {
      const last = await this.#read(shard, { last_by_subj: this.#names.shard(shard) });
      if (last === undefined) return { lastSequence: 0, lastTotal: 0, depth: 0 };
      const lastTotal = header(last, TOTAL_HEADER);
      if (lastTotal + wanted <= this.#settings.capacity) return { lastSequence: last.seq, lastTotal, depth: lastTotal };
      const first = await this.#read(shard, { seq: 0, next_by_subj: this.#names.shard(shard) });
      if (first === undefined) return { lastSequence: last.seq, lastTotal, depth: 0 };
      // An oldest message newer than the last one read means the subject emptied in
      // between and a new run of totals began: the two do not compare; read again.
      if (first.seq > last.seq) continue;
      const before = header(first, TOTAL_HEADER) - header(first, COUNT_HEADER);
      return { lastSequence: last.seq, lastTotal, depth: Math.max(0, lastTotal - before) };
    }
  }

  /**
   * Appends one chunk after `tail`, or returns `conflict` when another message reached the
   * subject (or it was emptied) since `tail` was read. `msgId` makes a retried publish
   * whose first attempt was stored (its answer lost) count once.
   */
  async append(shard: number, chunk: EncodedChunk, tail: ShardTail, msgId: string): Promise<number | 'conflict'> {
    const h = headers();
    h.set(COUNT_HEADER, String(chunk.count));
    h.set(TOTAL_HEADER, String(tail.lastTotal + chunk.count));
    try {
      const ack = await this.#js.publish(this.#names.shard(shard), chunk.data, {
        headers: h,
        msgID: msgId,
        expect: { lastSubjectSequence: tail.lastSequence },
        timeout: this.#settings.requestTimeoutMs,
      });
      return ack.seq;
    } catch (error) {
      if ((error as { api_error?: { err_code?: number } }).api_error?.err_code === WRONG_LAST_SEQUENCE) return 'conflict';
      throw new ConnectionError(`JetStream publish to ${this.#names.shard(shard)}`, errorText(error), { cause: error });
    }
  }

  /** Acknowledges: removes the shard's messages with a stream sequence below `sequence`. */
  async purgeBefore(shard: number, sequence: number): Promise<void> {
    await this.#jsm.streams.purge(this.#names.stream, { filter: this.#names.shard(shard), seq: sequence });
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

function header(message: StoredMsg, name: string): number {
  const value = Number(message.header.get(name));
  return Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

function isNotFound(error: unknown): boolean {
  const e = error as { code?: unknown; api_error?: { code?: number } };
  return String(e.code) === '404' || e.api_error?.code === 404;
}
