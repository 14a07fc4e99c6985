import { hostname } from 'node:os';
import type { Logger } from '../common/logger.ts';
import type { HotKeyBoard, HotKeySnapshot } from '../state/hot-key-board.ts';
import { HotKeySketch } from './hot-keys.ts';
import type { RuntimeObserver } from './observer.ts';
import type { OwnerSettings } from './options.ts';

/** Keys per published snapshot: the top of each shard's sketch. */
export const HOT_KEYS_PUBLISHED = 10;

/** Halvings past which nothing of the old counts is worth keeping: start again. */
const FORGET_AFTER_HALVINGS = 64;

type HotKeySettings = Pick<OwnerSettings, 'hotKeySlots' | 'hotKeyHalfLifeMs' | 'hotKeyPublishMs'>;

/**
 * An owner's hot-key bookkeeping: one {@link ShardHotKeys} per shard it holds, made on
 * gain and closed when the shard goes. One timer, every `hotKeyPublishMs` while any shard
 * is tracked, decays what is due and publishes each shard counted since its last publish
 * to the board and the owner's observer; so the hot path only counts.
 */
export class HotKeyRecorder {
  readonly #settings: HotKeySettings;
  readonly #board: HotKeyBoard;
  readonly #observer: RuntimeObserver;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #host = hostname();
  /** By shard: a shard granted again replaces what an earlier grant left. */
  readonly #shards = new Map<number, ShardHotKeys>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(settings: HotKeySettings, board: HotKeyBoard, observer: RuntimeObserver, logger: Logger, now: () => number = Date.now) {
    this.#settings = settings;
    this.#board = board;
    this.#observer = observer;
    this.#logger = logger;
    this.#now = now;
  }

  /** Counting for a shard just gained at `epoch`; `undefined` when hot keys are off (`hotKeySlots` 0). */
  track(shard: number, epoch: number): ShardHotKeys | undefined {
    if (this.#settings.hotKeySlots === 0) return undefined;
    const tracked = new ShardHotKeys(shard, epoch, this.#settings, this.#now(), () => this.#forget(tracked));
    this.#shards.set(shard, tracked);
    this.#timer ??= setInterval(() => this.publish(), this.#settings.hotKeyPublishMs).unref();
    return tracked;
  }

  /** Decays every tracked shard as due and publishes those counted since their last publish (what the timer runs). */
  publish(): void {
    const now = this.#now();
    for (const tracked of this.#shards.values()) {
      tracked.decay(now);
      const snapshot = tracked.due(now, this.#host);
      if (snapshot === undefined) continue;
      this.#observer.hotKeys?.(snapshot.shard, snapshot.keys);
      tracked.publishing(
        this.#board.publish(snapshot).catch((error: unknown) => {
          this.#logger.debug({ shard: snapshot.shard, board: this.#board.name, err: error }, 'hot keys not published');
        }),
      );
    }
  }

  /** Stops the timer and every shard's counting. Idempotent. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#shards.clear();
  }

  #forget(tracked: ShardHotKeys): void {
    if (this.#shards.get(tracked.shard) !== tracked) return;
    this.#shards.delete(tracked.shard);
    if (this.#shards.size > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * One shard's recent key counts: a {@link HotKeySketch} of `hotKeySlots` slots fed with
 * every new command the owner applies, halved every `hotKeyHalfLifeMs` (so a key's share
 * is of the recent commands, the last half-life weighing as much as all before it).
 * `record` is all the hot path does: nothing is allocated per command but a newly held
 * key's index entry, and no clock is read.
 */
export class ShardHotKeys {
  readonly shard: number;
  readonly #epoch: number;
  readonly #sketch: HotKeySketch;
  readonly #halfLifeMs: number;
  readonly #close: () => void;
  #nextHalving: number;
  /** Counted since the last publish. */
  #dirty = false;
  #inFlight = false;

  constructor(shard: number, epoch: number, settings: HotKeySettings, now: number, close: () => void) {
    this.shard = shard;
    this.#epoch = epoch;
    this.#sketch = new HotKeySketch(settings.hotKeySlots);
    this.#halfLifeMs = settings.hotKeyHalfLifeMs;
    this.#nextHalving = now + this.#halfLifeMs;
    this.#close = close;
  }

  /** Counts the keys of one applied batch's new commands. */
  record(keys: readonly string[]): void {
    const sketch = this.#sketch;
    for (let i = 0; i < keys.length; i++) sketch.add(keys[i]!);
    if (keys.length > 0) this.#dirty = true;
  }

  /** The shard was revoked or fenced: its counts go, and nothing more is published. */
  close(): void {
    this.#close();
  }

  /** Halves the counts once per half-life passed (all at once after a long quiet). */
  decay(now: number): void {
    if (now < this.#nextHalving) return;
    const halvings = 1 + Math.floor((now - this.#nextHalving) / this.#halfLifeMs);
    if (halvings >= FORGET_AFTER_HALVINGS) this.#sketch.clear();
    else this.#sketch.scale(2 ** -halvings);
    this.#nextHalving += halvings * this.#halfLifeMs;
  }

  /** The snapshot to publish now, when the shard was counted since its last one and none is in flight. */
  due(now: number, host: string): HotKeySnapshot | undefined {
    if (!this.#dirty || this.#inFlight) return undefined;
    this.#dirty = false;
    const total = this.#sketch.total;
    const keys = this.#sketch.top(HOT_KEYS_PUBLISHED).map(({ key, count, error }) => ({ key, share: total > 0 ? Math.min(1, count / total) : 0, count, error }));
    return { shard: this.shard, epoch: this.#epoch, host, pid: process.pid, at: now, total, halfLifeMs: this.#halfLifeMs, keys };
  }

  /** Holds the next publish back until `publish` settles: a slow board gets one write per shard at a time. */
  publishing(publish: Promise<void>): void {
    this.#inFlight = true;
    void publish.finally(() => {
      this.#inFlight = false;
    });
  }
}
