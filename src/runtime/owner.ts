import type { AnyDomain } from '../core/domain.ts';
import { StaleEpochError, StateEncodingError, TransportContractError } from '../core/errors.ts';
import { shardOf } from '../core/router.ts';
import type { DeadLetterQueue } from '../state/dead-letters.ts';
import { MemoryStateStore } from '../state/memory-store.ts';
import type { OutboxMessage, StateStore } from '../state/state-store.ts';
import type { Delivery, ShardGrant, ShardHandler, Subscription, Transport } from '../transports/transport.ts';
import { applyBatch, type BatchResult } from './apply-batch.ts';
import { DeliveryGuard } from './delivery-guard.ts';
import { IdWindow } from './id-window.ts';
import { OriginMarks } from './origin-marks.ts';
import { silentLogger, type Logger } from '../common/logger.ts';
import type { RuntimeObserver } from './observer.ts';
import { parseOptions } from '../common/options.ts';
import { ownerSettingsSchema, type OwnerSettings } from './options.ts';
import { MemoryReplyBus, type ReplyBus } from '../common/replies.ts';
import { ShardSender } from './sender.ts';
import { MemoryHotKeyBoard, type HotKeyBoard } from '../state/hot-key-board.ts';
import { HotKeyRecorder, type ShardHotKeys } from './hot-key-tracker.ts';
import { StateCache } from './state-cache.ts';

const EMPTY: ReadonlyMap<string, unknown> = new Map();
const OUTCOMES = ['ok', 'rejected', 'failed', 'duplicate'] as const;

export interface OwnerOptions<D extends AnyDomain> extends Partial<OwnerSettings> {
  readonly domain: D;
  readonly transport: Transport;
  /** Entity state, positions, epochs and dead letters; defaults to a memory store. */
  readonly store?: StateStore;
  /** Where replies to `request()` are published; defaults to in-process replies. */
  readonly replies?: ReplyBus;
  readonly observer?: RuntimeObserver;
  readonly logger?: Logger;
  /** Where each shard's hot keys are published; defaults to a board in this process. */
  readonly hotKeyBoard?: HotKeyBoard;
}

interface OwnedShard {
  readonly grant: ShardGrant;
  /** The fencing epoch the store issued on claim; every commit carries it. */
  readonly epoch: number;
  position: number;
  readonly ids: IdWindow;
  readonly marks: OriginMarks;
  /** Follow-ups committed but not yet enqueued, oldest first; rewritten into every commit. */
  readonly unsent: Set<OutboxMessage>;
  /** Wakes the shard's next batch when a follow-up send settles while `unsent` is over the limit. */
  wake: (() => void) | undefined;
  /**
   * A batch whose commit failed in a way that does not say whether the write landed (a
   * reply lost on the network): settled against the store before the next batch.
   */
  inDoubt: { readonly result: BatchResult; readonly size: number; readonly started: number } | undefined;
  /** Checks this grant's deliveries against the transport contract. */
  readonly guard: DeliveryGuard;
  /** Set once the transport broke its contract on this grant: nothing more is applied. */
  stopped: TransportContractError | undefined;
  /** Recent key counts; dropped with the shard. `undefined` when hot keys are off. */
  readonly hotKeys: ShardHotKeys | undefined;
  /** Keys a commit could not store a state of: their new states are checked as they are made. */
  readonly encodingChecked: Set<string>;
}

/**
 * The consumer side: joins the transport's ownership and applies every command of each
 * shard it is granted, in order, as the only writer of that shard's state. Every batch is
 * one atomic store commit (state, last position, applied ids, follow-ups) fenced by the
 * grant's epoch; follow-ups and replies leave only after that commit.
 */
export class Owner<D extends AnyDomain> {
  readonly domain: D;
  readonly settings: OwnerSettings;
  readonly store: StateStore;
  readonly deadLetters: DeadLetterQueue;
  /** Where this owner publishes its shards' hot keys (read them with `readHotKeys`). */
  readonly hotKeyBoard: HotKeyBoard;
  readonly #transport: Transport;
  readonly #replies: ReplyBus;
  readonly #observer: RuntimeObserver;
  readonly #logger: Logger;
  readonly #hotKeys: HotKeyRecorder;
  readonly #shards = new Map<number, OwnedShard>();
  /** The committed state of owned shards' entities; none when the store is in process. */
  readonly #cache: StateCache | undefined;
  /** Follow-up sends under way, awaited by `close()`. */
  readonly #sends = new Set<Promise<void>>();
  #shardCount = 0;
  #sender: ShardSender | undefined;
  #subscription: Subscription | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: OwnerOptions<D>) {
    const { domain, transport, store, replies, observer, logger, hotKeyBoard, ...settings } = options;
    this.settings = parseOptions(ownerSettingsSchema, settings, 'owner');
    this.domain = domain;
    this.store = store ?? new MemoryStateStore({ dedupeWindow: this.settings.dedupeWindow });
    this.deadLetters = this.store.deadLetters;
    this.#transport = transport;
    this.#replies = replies ?? new MemoryReplyBus();
    this.#observer = observer ?? {};
    this.#logger = logger ?? silentLogger;
    this.hotKeyBoard = hotKeyBoard ?? new MemoryHotKeyBoard();
    this.#hotKeys = new HotKeyRecorder(this.settings, this.hotKeyBoard, this.#observer, this.#logger);
    const entries = this.settings.stateCacheEntries;
    this.#cache = entries > 0 && this.store.inProcess !== true ? new StateCache(entries) : undefined;
  }

  /** Connects and joins ownership; shards arrive as the transport grants them. */
  async start(): Promise<void> {
    if (this.#subscription !== undefined) return;
    const info = await this.#transport.connect();
    this.#shardCount = info.shardCount;
    this.#sender = new ShardSender(this.#transport, info.shardCount, {
      overflow: 'block',
      timeoutMs: this.settings.followUpForceAfterMs,
      reserve: 0,
      maxBatch: Math.min(this.settings.maxBatch, info.capacity),
      lingerMs: 0,
      persistent: { retryDelayMs: Math.max(1, this.settings.retryBackoffMs) },
    }, this.#observer, (target, error) => {
      this.#observer.followUpRetried?.(target);
      this.#logger.warn({ target, err: error }, 'follow-ups not enqueued; retrying in order');
    });
    this.#subscription = await this.#transport.consume(this.#handler);
  }

  /** The shards this owner holds now, with the fencing epochs the store issued. */
  owned(): ShardGrant[] {
    return [...this.#shards.values()].map((owned) => ({ shard: owned.grant.shard, epoch: owned.epoch }));
  }

  /**
   * The shards this owner holds but stopped applying because their transport broke its
   * contract (positions going backwards or reused, a rejected batch not delivered first):
   * applying on would lose commands. Each stays stopped until the grant ends.
   */
  stopped(): { shard: number; error: TransportContractError }[] {
    const stopped: { shard: number; error: TransportContractError }[] = [];
    for (const owned of this.#shards.values()) if (owned.stopped !== undefined) stopped.push({ shard: owned.grant.shard, error: owned.stopped });
    return stopped;
  }

  /** Finishes and commits the batch in hand, gives every shard up, and stops. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#subscription?.close();
      this.#hotKeys.close();
      // Follow-ups still failing stay in the committed outbox for the next owner.
      this.#sender?.close();
      while (this.#sends.size > 0) await Promise.all(this.#sends);
      await this.#sender?.flush();
    })();
    return this.#closing;
  }

  readonly #handler: ShardHandler = {
    assigned: async (grant) => {
      // Whatever was cached under an earlier grant may have been overwritten since.
      this.#cache?.drop(grant.shard);
      try {
        const snapshot = await this.store.claim(grant.shard, grant.epoch);
        const owned: OwnedShard = {
          grant,
          epoch: snapshot.epoch,
          position: snapshot.position,
          ids: new IdWindow(this.settings.dedupeWindow, snapshot.recentIds),
          marks: new OriginMarks(this.settings.maxOrigins, snapshot.marks),
          unsent: new Set(snapshot.outbox),
          wake: undefined,
          inDoubt: undefined,
          guard: new DeliveryGuard(),
          stopped: undefined,
          hotKeys: this.#hotKeys.track(grant.shard, snapshot.epoch),
          encodingChecked: new Set(),
        };
        this.#shards.set(grant.shard, owned);
        this.#send(owned, snapshot.outbox);
        this.#observer.ownership?.(grant.shard, snapshot.epoch, 'gained');
        this.#logger.info({ shard: grant.shard, epoch: snapshot.epoch, position: snapshot.position }, 'shard gained');
        return snapshot.position;
      } catch (error) {
        if (error instanceof StaleEpochError) this.#observer.staleEpoch?.(grant.shard);
        this.#logger.warn({ shard: grant.shard, epoch: grant.epoch, err: error }, 'shard claim refused');
        throw error;
      }
    },
    deliver: async (grant, batch) => {
      const owned = this.#shards.get(grant.shard);
      if (owned === undefined || owned.grant.epoch !== grant.epoch) {
        throw new StaleEpochError(grant.shard, grant.epoch, owned?.grant.epoch ?? -1);
      }
      if (owned.stopped !== undefined) throw owned.stopped;
      const violation = owned.guard.check(batch, owned.position);
      if (violation !== undefined) throw this.#stop(owned, violation);
      try {
        await this.#apply(owned, batch);
        owned.guard.acknowledged(batch);
      } catch (error) {
        // The commit may have landed or not, or another owner may write now: read afresh.
        this.#cache?.drop(grant.shard);
        if (!(error instanceof TransportContractError)) owned.guard.rejected(batch, owned.position);
        if (error instanceof StaleEpochError) {
          this.#shards.delete(grant.shard);
          owned.hotKeys?.close();
          this.#observer.staleEpoch?.(grant.shard);
          this.#observer.ownership?.(grant.shard, owned.epoch, 'lost');
          this.#logger.warn({ shard: grant.shard, epoch: owned.epoch, current: error.currentEpoch }, 'fenced: another owner holds the shard');
        } else if (!(error instanceof TransportContractError)) {
          this.#logger.error({ shard: grant.shard, err: error }, 'batch failed; it will be delivered again');
        }
        throw error;
      }
    },
    revoked: async (grant) => {
      const owned = this.#shards.get(grant.shard);
      if (owned === undefined || owned.grant.epoch !== grant.epoch) return;
      this.#shards.delete(grant.shard);
      owned.hotKeys?.close();
      this.#cache?.drop(grant.shard);
      this.#observer.ownership?.(grant.shard, owned.epoch, 'lost');
      this.#logger.info({ shard: grant.shard, epoch: owned.epoch }, 'shard lost');
    },
  };

  async #apply(owned: OwnedShard, batch: readonly Delivery[]): Promise<void> {
    const started = performance.now();
    const shard = owned.grant.shard;
    while (owned.unsent.size > this.settings.outboxLimit) {
      await new Promise<void>((resolve) => {
        owned.wake = resolve;
      });
    }

    if (owned.inDoubt !== undefined) await this.#settle(owned, owned.inDoubt);

    const keys: string[] = [];
    for (const delivery of batch) if (delivery.position > owned.position) keys.push(delivery.key);
    const loaded = keys.length > 0 ? await this.#load(owned, keys) : EMPTY;
    const result = await applyBatch(this.domain, this.settings, { shard, shardCount: this.#shardCount, position: owned.position, ids: owned.ids, marks: owned.marks, epoch: owned.epoch, encodingChecked: owned.encodingChecked.size > 0 ? owned.encodingChecked : undefined }, batch, loaded);
    if (result.violation !== undefined) {
      owned.ids.remove(result.appliedIds);
      owned.marks.restore(result.markUndo);
      throw this.#stop(owned, result.violation);
    }
    try {
      if (result.readsOnly) await this.#confirmEpoch(owned);
      else await this.#commit(owned, result);
    } catch (error) {
      // Refused before anything was written: not in doubt. The batch comes again, its states of that key checked as they are made.
      if (error instanceof StateEncodingError) owned.encodingChecked.add(error.key);
      if (error instanceof StaleEpochError || error instanceof StateEncodingError || result.readsOnly || result.lastPosition <= owned.position) {
        owned.ids.remove(result.appliedIds);
        owned.marks.restore(result.markUndo);
      } else {
        owned.inDoubt = { result, size: batch.length, started };
      }
      throw error;
    }
    owned.hotKeys?.record(keys);
    this.#announce(shard, batch.length, started, result);
  }

  /** The committed states of `keys`: from the cache where it has them, else from the store. */
  async #load(owned: OwnedShard, keys: readonly string[]): Promise<ReadonlyMap<string, unknown>> {
    const shard = owned.grant.shard;
    const cache = this.#cache;
    if (cache === undefined) return this.store.load(shard, keys);
    const states = new Map<string, unknown>();
    const missing = cache.lookup(shard, keys, states);
    if (missing.length === 0) return states;
    const found = await this.store.load(shard, missing);
    // A revocation while the store answered dropped the shard: nothing may come back into it.
    if (this.#shards.get(shard) === owned) cache.loaded(shard, missing, found);
    for (const key of missing) if (found.has(key)) states.set(key, found.get(key));
    return states;
  }

  /** Stops applying a shard whose transport broke its contract, loudly: log, observer, `stopped()`. */
  #stop(owned: OwnedShard, detail: string): TransportContractError {
    const error = new TransportContractError(this.#transport.name, owned.grant.shard, detail);
    owned.stopped = error;
    this.#observer.contractViolation?.(owned.grant.shard, error);
    this.#logger.error({ shard: owned.grant.shard, transport: this.#transport.name, epoch: owned.epoch, err: error }, 'transport broke its contract: shard stopped, nothing more is applied');
    return error;
  }

  /**
   * Finds out whether the in-doubt batch's commit landed: if it did, finishes it as if the
   * commit had returned (its redelivery is then skipped by position); if not, forgets the
   * ids and marks it took so that its redelivery is applied.
   */
  async #settle(owned: OwnedShard, inDoubt: NonNullable<OwnedShard['inDoubt']>): Promise<void> {
    const shard = owned.grant.shard;
    const status = await this.store.status(shard);
    if (status.epoch !== owned.epoch) throw new StaleEpochError(shard, owned.epoch, status.epoch);
    owned.inDoubt = undefined;
    const { result } = inDoubt;
    if (status.position >= result.lastPosition) {
      this.#committed(owned, result);
      this.#announce(shard, inDoubt.size, inDoubt.started, result);
    } else {
      owned.ids.remove(result.appliedIds);
      owned.marks.restore(result.markUndo);
    }
  }

  /**
   * A batch of reads only commits nothing (the shard's position stays where its last
   * command put it); its answers are still the shard's latest state only while this owner
   * holds the epoch, which one store read confirms.
   */
  async #confirmEpoch(owned: OwnedShard): Promise<void> {
    const { epoch } = await this.store.status(owned.grant.shard);
    if (epoch !== owned.epoch) throw new StaleEpochError(owned.grant.shard, owned.epoch, epoch);
  }

  async #commit(owned: OwnedShard, result: BatchResult): Promise<void> {
    const shard = owned.grant.shard;
    if (result.lastPosition > owned.position) {
      // Follow-ups still unsent from earlier batches stay in the outbox with the new ones,
      // so a new owner resends every one of them whatever moment this owner dies at.
      await this.store.commit(shard, {
        epoch: owned.epoch,
        position: result.lastPosition,
        changes: result.changes,
        appliedIds: result.appliedIds,
        marks: result.marks,
        forgottenMarks: result.forgottenMarks,
        outbox: owned.unsent.size === 0 ? result.outbox : [...owned.unsent, ...result.outbox],
        deadLetters: result.deadLetters,
      });
      this.#committed(owned, result);
    }
  }

  /** What follows a commit that landed: the shard moves on and the follow-ups leave. */
  #committed(owned: OwnedShard, result: BatchResult): void {
    const shard = owned.grant.shard;
    for (const letter of result.deadLetters) {
      this.#observer.deadLettered?.(shard, letter.type, letter.error);
      this.#logger.warn({ shard, position: letter.position, id: letter.id, error: letter.error }, 'command dead-lettered');
    }
    owned.position = result.lastPosition;
    if (this.#shards.get(shard) === owned) this.#cache?.committed(shard, result.changes);
    for (const message of result.outbox) owned.unsent.add(message);
    this.#send(owned, result.outbox);
  }

  /**
   * Enqueues follow-ups without holding up the shard: its next batch is applied while they
   * wait for room. Waiting follow-ups are admitted before producers' commands, so a full
   * target pushes back on producers rather than on owners, and owners that send to each
   * other cannot deadlock. The sender retries a failed enqueue in place, keeping each
   * target's order, which the origin marks at the target rely on.
   */
  #send(owned: OwnedShard, messages: readonly OutboxMessage[]): void {
    if (messages.length === 0) return;
    const byShard = new Map<number, OutboxMessage[]>();
    for (const message of messages) {
      const target = shardOf(message.key, this.#shardCount);
      let list = byShard.get(target);
      if (list === undefined) byShard.set(target, (list = []));
      list.push(message);
    }
    const sends = [...byShard].map(async ([target, list]) => {
      try {
        await this.#sender!.send(target, list);
        for (const message of list) owned.unsent.delete(message);
        owned.wake?.();
      } catch (error) {
        // Only when closing: the outbox is committed, so the next owner sends what is left.
        this.#logger.info({ shard: owned.grant.shard, target, err: error }, 'follow-ups left to the next owner');
      }
    });
    const all = Promise.all(sends).then(() => undefined);
    this.#sends.add(all);
    void all.finally(() => this.#sends.delete(all));
  }

  #announce(shard: number, size: number, started: number, result: BatchResult): void {
    for (const [address, replies] of result.replies) {
      this.#replies.publish(address, replies).catch((error: unknown) => {
        this.#logger.debug({ address, err: error }, 'reply dropped');
      });
    }
    const observer = this.#observer;
    if (observer.applied !== undefined) {
      for (const [type, counts] of result.counts) {
        for (const outcome of OUTCOMES) if (counts[outcome] > 0) observer.applied(type, outcome, counts[outcome]);
      }
    }
    observer.batch?.(shard, size, (performance.now() - started) / 1000);
    if (observer.endToEnd !== undefined) {
      const now = Date.now();
      for (const sentAt of result.sentAt) observer.endToEnd(Math.max(0, now - sentAt) / 1000);
    }
  }
}
