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
 * gain and dropped with the shard, each publishing to one board and reporting to the
 * owner's observer.
 */
export class HotKeyRecorder {
  readonly #settings: HotKeySettings;
  readonly #board: HotKeyBoard;
  readonly #observer: RuntimeObserver;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #host = hostname();

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
    return new ShardHotKeys(this.#settings, this.#now, (sketch, at) => this.#publish(shard, epoch, sketch, at));
  }

  #publish(shard: number, epoch: number, sketch: HotKeySketch, at: number): Promise<void> {
    const total = sketch.total;
    const keys = sketch.top(HOT_KEYS_PUBLISHED).map(({ key, count, error }) => ({ key, share: total > 0 ? Math.min(1, count / total) : 0, count, error }));
    const snapshot: HotKeySnapshot = { shard, epoch, host: this.#host, pid: process.pid, at, total, halfLifeMs: this.#settings.hotKeyHalfLifeMs, keys };
    this.#observer.hotKeys?.(shard, keys);
    return this.#board.publish(snapshot).catch((error: unknown) => {
      this.#logger.debug({ shard, board: this.#board.name, err: error }, 'hot keys not published');
    });
  }
}

/**
 * One shard's recent key counts: a {@link HotKeySketch} of `hotKeySlots` slots fed with
 * every new command the owner applies, halved every `hotKeyHalfLifeMs` (so a key's share
 * is of the recent commands, the last half-life weighing as much as all before it), and
 * published at most every `hotKeyPublishMs`, only while commands arrive. One clock read
 * per batch; nothing is allocated per command but a newly held key's index entry.
 */
export class ShardHotKeys {
  readonly #sketch: HotKeySketch;
  readonly #halfLifeMs: number;
  readonly #publishMs: number;
  readonly #now: () => number;
  readonly #publish: (sketch: HotKeySketch, at: number) => Promise<void>;
  #nextHalving: number;
  #nextPublish: number;
  #publishing = false;

  constructor(settings: HotKeySettings, now: () => number, publish: (sketch: HotKeySketch, at: number) => Promise<void>) {
    this.#sketch = new HotKeySketch(settings.hotKeySlots);
    this.#halfLifeMs = settings.hotKeyHalfLifeMs;
    this.#publishMs = settings.hotKeyPublishMs;
    this.#now = now;
    this.#publish = publish;
    const started = now();
    this.#nextHalving = started + this.#halfLifeMs;
    this.#nextPublish = started;
  }

  /** Counts the keys of one applied batch's new commands, decays what is due and publishes when due. */
  record(keys: readonly string[]): void {
    const now = this.#now();
    if (now >= this.#nextHalving) this.#decay(now);
    const sketch = this.#sketch;
    for (let i = 0; i < keys.length; i++) sketch.add(keys[i]!);
    if (now >= this.#nextPublish && !this.#publishing) {
      this.#nextPublish = now + this.#publishMs;
      this.#publishing = true;
      void this.#publish(sketch, now).finally(() => {
        this.#publishing = false;
      });
    }
  }

  #decay(now: number): void {
    const halvings = 1 + Math.floor((now - this.#nextHalving) / this.#halfLifeMs);
    if (halvings >= FORGET_AFTER_HALVINGS) this.#sketch.clear();
    else this.#sketch.scale(2 ** -halvings);
    this.#nextHalving += halvings * this.#halfLifeMs;
  }
}
