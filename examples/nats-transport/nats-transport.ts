import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import {
  ClosedError,
  ConfigError,
  ConnectionError,
  type EnqueueOptions,
  type EnqueueResult,
  type Logger,
  type ShardHandler,
  type Subscription,
  type Transport,
  type TransportContext,
  type TransportInfo,
  type TransportMessage,
} from '../../src/index.ts';
import { BoundedEnqueue } from './bounded-enqueue.ts';
import { errorText } from './error-text.ts';
import { Names } from './names.ts';
import { parseNatsTransportOptions, type NatsTransportOptions, type NatsTransportSettings } from './options.ts';
import { OwnershipBucket } from './ownership-bucket.ts';
import { Ownership } from './ownership.ts';
import { ShardLog } from './shard-log.ts';

/** Bytes of a server's `max_payload` left for headers and subject when batches are split. */
const HEADER_ROOM_BYTES = 4096;

interface Connected {
  readonly nc: NatsConnection;
  readonly log: ShardLog;
  readonly enqueue: BoundedEnqueue;
}

/**
 * A shardline transport on NATS JetStream, written against shardline's public API only.
 *
 * - shard = the subject `<prefix>.<domain>.<shard>` of one stream per domain; one stream
 *   message per enqueued batch; position = the shard's running total of commands before
 *   the batch + index in it (dense from 0, up to `MAX_POSITION` per shard);
 * - bound = unacknowledged commands per subject, checked and appended atomically with
 *   JetStream's expected-last-subject-sequence (see `shard-log.ts`);
 * - ownership = a member heartbeat and one lease per shard in a KV bucket with a TTL,
 *   capped rendezvous hashing (`assignShards`) over live members; epoch = the KV
 *   revision that granted the lease;
 * - acknowledgement = purging the delivered messages from the stream.
 */
export class NatsTransport implements Transport {
  readonly name = 'nats';
  readonly settings: NatsTransportSettings;
  readonly #names: Names;
  readonly #logger: Logger;
  #connecting: Promise<Connected> | undefined;
  #ownership: Ownership | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  /** Validates `options` (throws `ConfigError` listing every wrong field); connects on `connect()`. */
  constructor(options: NatsTransportOptions, context: TransportContext) {
    this.settings = parseNatsTransportOptions(options, context.domain);
    this.#names = new Names(this.settings.prefix, context.domain);
    this.#logger = context.logger;
  }

  async connect(): Promise<TransportInfo> {
    await this.#connected();
    return { shardCount: this.settings.shards, capacity: this.settings.capacity };
  }

  async enqueue(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): Promise<EnqueueResult> {
    return (await this.#connected()).enqueue.enqueue(shard, messages, options);
  }

  /** Exact at the moment of reading: commands in the shard's subject (purged = acknowledged). */
  async depth(shard: number): Promise<number> {
    return (await (await this.#connected()).log.tail(shard)).depth;
  }

  async consume(handler: ShardHandler): Promise<Subscription> {
    if (this.#ownership !== undefined) {
      throw new ConfigError(['consume: expected one call per transport instance, got a second; create another transport']);
    }
    const { nc, log } = await this.#connected();
    const memberId = `${process.pid}-${randomBytes(6).toString('hex')}`;
    const bucket = await OwnershipBucket.open(nc.jetstream({ timeout: this.settings.requestTimeoutMs }), this.#names, this.settings, memberId);
    if (this.#closed) throw new ClosedError('nats transport');
    this.#ownership = new Ownership(
      bucket,
      {
        js: nc.jetstream({ timeout: this.settings.requestTimeoutMs }),
        log,
        names: this.#names,
        settings: this.settings,
        handler,
        logger: this.#logger,
        announceRoom: (shard) => nc.publish(this.#names.acked(shard)),
      },
      memberId,
    );
    this.#ownership.start();
    return this.#ownership;
  }

  /** Gives every shard up, fails blocked enqueues with `ClosedError`, and closes the connection. Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      await this.#ownership?.close();
      const connected = await this.#connecting?.catch(() => undefined);
      connected?.enqueue.close();
      await connected?.nc.close();
    })();
    return this.#closing;
  }

  /**
   * Drops the connection without giving anything up, as if the process died: its leases
   * expire `leaseTtlMs` later and unacknowledged messages go to the next owner. For tests.
   */
  async crash(): Promise<void> {
    this.#closed = true;
    this.#ownership?.abandon();
    const connected = await this.#connecting?.catch(() => undefined);
    connected?.enqueue.close();
    await connected?.nc.close();
    this.#closing ??= Promise.resolve();
  }

  #connected(): Promise<Connected> {
    if (this.#closed) return Promise.reject(new ClosedError('nats transport'));
    this.#connecting ??= this.#open().catch((error: unknown) => {
      this.#connecting = undefined;
      throw error;
    });
    return this.#connecting;
  }

  async #open(): Promise<Connected> {
    const { servers, requestTimeoutMs } = this.settings;
    const where = `NATS at ${servers.join(', ')}`;
    let nc: NatsConnection;
    try {
      nc = await connect({ servers, name: `shardline-${this.#names.stream}`, timeout: requestTimeoutMs, maxReconnectAttempts: -1 });
    } catch (error) {
      throw new ConnectionError(where, `expected a reachable nats-server, got ${errorText(error)}`, { cause: error });
    }
    try {
      const jsm = await nc.jetstreamManager({ timeout: requestTimeoutMs });
      const log = new ShardLog(jsm, nc.jetstream({ timeout: requestTimeoutMs }), this.#names, this.settings);
      await log.ensureStream();
      const maxBytes = Math.max(1024, (nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM_BYTES);
      const enqueue = new BoundedEnqueue(log, this.settings, maxBytes);
      nc.subscribe(this.#names.ackedWildcard, {
        callback: (error, message) => {
          if (error === null) enqueue.wake(Number(message.subject.slice(message.subject.lastIndexOf('.') + 1)));
        },
      });
      return { nc, log, enqueue };
    } catch (error) {
      await nc.close();
      if (error instanceof ConfigError || error instanceof ConnectionError) throw error;
      throw new ConnectionError(where, `expected JetStream to be enabled (nats-server -js), got ${errorText(error)}`, { cause: error });
    }
  }
}

/** The module entry point configuration names: validates `options` and makes a transport. */
export function createTransport(options: Record<string, unknown>, context: TransportContext): Transport {
  return new NatsTransport(options, context);
}
