import { describe, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from '../core/errors.ts';
import { parseOptions } from '../common/options.ts';
import type { StateStore } from '../state/state-store.ts';
import { Mismatch, StoreConformanceError, type StoreCheck, type StoreCheckContext } from './store-check-kit.ts';
import { dataChecks } from './store-data-checks.ts';
import { fencingChecks } from './store-fencing-checks.ts';

/** A fresh backend per check: every store it creates shares the same data, like processes sharing a database. */
export interface StoreHarness {
  /** A new store instance over this backend, as a separate process would open one. */
  create(): StateStore | Promise<StateStore>;
  /** Drops the backend after the check (store instances are closed by the suite first). */
  dispose?(): Promise<void>;
}

/** How to run the store conformance suite against one store implementation. */
export interface StoreConformanceOptions {
  /** Shown in the suite's name. */
  readonly name: string;
  /** Makes a fresh, empty backend for one check. */
  setup(): Promise<StoreHarness>;
  /** The dedupe window the harness's stores are configured with: 3 to 1000 ids (a small one keeps checks quick). */
  readonly dedupeWindow: number;
  /** The dead-letter capacity they are configured with, to check the cap; omit when they keep every letter. */
  readonly deadLetterCapacity?: number;
  /** Time limit of one check. @defaultValue 30000 */
  readonly checkTimeoutMs?: number;
}

const optionsSchema = z.object({
  name: z.string().min(1),
  setup: z.custom<StoreConformanceOptions['setup']>((value) => typeof value === 'function', 'expected a function'),
  dedupeWindow: z.number().int().min(3).max(1_000),
  deadLetterCapacity: z.number().int().min(1).max(1_000).optional(),
  checkTimeoutMs: z.number().int().positive().optional(),
});

/** Every check of the suite, in the order it runs them. */
export const storeChecks: readonly StoreCheck[] = [...fencingChecks, ...dataChecks];

/**
 * Runs one check against a fresh backend from `options.setup()`, closes every instance it
 * opened and disposes of the backend. Rejects with a {@link StoreConformanceError} naming
 * the check when the store breaks the contract (or throws), and with `ConfigError` when
 * `options` are invalid.
 */
export async function runStoreCheck(check: StoreCheck | string, options: StoreConformanceOptions): Promise<void> {
  const settings = parseOptions(optionsSchema, options, 'storeConformance');
  const found = typeof check === 'string' ? storeChecks.find((c) => c.id === check) : check;
  if (found === undefined) throw new ConfigError([`check: expected one of ${storeChecks.map((c) => c.id).join(', ')}, got ${JSON.stringify(check)}`]);
  const harness = await options.setup();
  const opened: StateStore[] = [];
  const context: StoreCheckContext = {
    async open() {
      const store = await harness.create();
      opened.push(store);
      return store;
    },
    dedupeWindow: settings.dedupeWindow,
    deadLetterCapacity: settings.deadLetterCapacity,
  };
  try {
    await found.run(context);
  } catch (error) {
    const detail = error instanceof Mismatch ? error.message : `the store threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
    throw new StoreConformanceError(found.id, found.title, detail, { cause: error });
  } finally {
    await Promise.allSettled(opened.map((store) => store.close()));
    await harness.dispose?.();
  }
}

/** Runs every check (one after another) and returns those that failed; an empty list means the store conforms. */
export async function failedStoreChecks(options: StoreConformanceOptions): Promise<StoreConformanceError[]> {
  const failed: StoreConformanceError[] = [];
  for (const check of storeChecks) {
    try {
      await runStoreCheck(check, options);
    } catch (error) {
      if (!(error instanceof StoreConformanceError)) throw error;
      failed.push(error);
    }
  }
  return failed;
}

/**
 * The state store conformance suite: registers one vitest test per check of the store
 * contract (`src/state/state-store.ts`): claim epochs, fencing, atomic commits, repeated
 * commits, status after an unknown outcome, and exact round trips of entities, origin
 * marks, the dedupe window, the outbox and dead letters. Call it from a test file:
 *
 * ```ts
 * import { describeStoreConformance } from 'shardline/testing';
 * describeStoreConformance({ name: 'my-db', dedupeWindow: 5, setup: async () => ({ create: () => new MyStore({ dedupeWindow: 5 }) }) });
 * ```
 */
export function describeStoreConformance(options: StoreConformanceOptions): void {
  const settings = parseOptions(optionsSchema, options, 'storeConformance');
  describe(`store conformance: ${settings.name}`, () => {
    for (const check of storeChecks) {
      it(`${check.id}: ${check.title}`, () => runStoreCheck(check, options), settings.checkTimeoutMs ?? 30_000);
    }
  });
}
