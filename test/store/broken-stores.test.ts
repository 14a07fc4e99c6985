import { describe, expect, it } from 'vitest';
import type { MemoryStateStore } from '../../src/state/memory-store.ts';
import type { StateStore } from '../../src/state/state-store.ts';
import { failedStoreChecks, runStoreCheck, storeChecks, type StoreConformanceError } from '../../src/testing/index.ts';
import {
  BentWindow,
  CAPACITY,
  ClosesOnce,
  CORRECT_EPOCHS,
  Drops,
  EncodesMidway,
  EpochLayer,
  ForgetsPosition,
  Forwarding,
  InventsStates,
  Latin1States,
  LettersLater,
  LettersNewestFirst,
  MarksInProcess,
  memoryStore,
  ReadsInTwoSteps,
  RepeatsLetters,
  SharesStoredState,
  StatusClaims,
  WINDOW,
  type EpochRules,
} from './broken-stores.ts';

/** Runs the whole suite against instances made by `make` over one fresh memory store per check. */
function failures(make: (inner: MemoryStateStore) => StateStore): Promise<StoreConformanceError[]> {
  return failedStoreChecks({
    name: 'under test',
    dedupeWindow: WINDOW,
    deadLetterCapacity: CAPACITY,
    async setup() {
      const inner = memoryStore();
      return { create: () => make(inner) };
    },
  });
}

/** An epoch layer whose epochs are shared by the instances of one check. */
function epochs(rules: EpochRules): (inner: MemoryStateStore) => StateStore {
  let shared: { inner: MemoryStateStore; epochs: Map<number, number> } | undefined;
  return (inner) => {
    if (shared?.inner !== inner) shared = { inner, epochs: new Map() };
    return new EpochLayer(inner, shared.epochs, rules);
  };
}

const cases: { store: string; make: (inner: MemoryStateStore) => StateStore; caughtBy: string[] }[] = [
  { store: 'a claim that ignores the offered epoch', make: epochs({ ...CORRECT_EPOCHS, next: (stored) => stored + 1 }), caughtBy: ['claim-epochs'] },
  {
    store: 'a claim that does not move the epoch',
    make: epochs({ ...CORRECT_EPOCHS, next: (stored, offered) => Math.max(stored, offered, 1) }),
    caughtBy: ['claim-epochs', 'claims-concurrent', 'stale-commit-refused', 'commit-all', 'repeat-is-noop', 'status-unknown-outcome', 'two-instances', 'close-idempotent', 'read-entity'],
  },
  { store: 'a commit that ignores the epoch', make: epochs({ ...CORRECT_EPOCHS, fences: false }), caughtBy: ['claims-concurrent', 'stale-commit-refused', 'status-unknown-outcome', 'two-instances', 'read-entity'] },
  { store: 'a claim that reads the epoch, then writes it in a second step', make: epochs({ ...CORRECT_EPOCHS, splitClaim: true }), caughtBy: ['claims-concurrent'] },
  { store: 'a commit whose position is never written', make: (inner) => new ForgetsPosition(inner), caughtBy: ['claims-concurrent', 'stale-commit-refused', 'commit-all', 'commit-atomic', 'repeat-is-noop', 'status-unknown-outcome', 'two-instances', 'unstorable-state'] },
  { store: 'a commit that leaves out the origin marks', make: (inner) => new Drops(inner, 'marks'), caughtBy: ['stale-commit-refused', 'commit-all', 'repeat-is-noop', 'two-instances', 'marks-exact', 'read-entity', 'read-atomic'] },
  { store: 'a commit that leaves out the forgotten marks', make: (inner) => new Drops(inner, 'forgottenMarks'), caughtBy: ['marks-exact', 'read-entity'] },
  { store: 'a commit that leaves out the outbox', make: (inner) => new Drops(inner, 'outbox'), caughtBy: ['stale-commit-refused', 'commit-all', 'two-instances', 'outbox'] },
  { store: 'a commit that leaves out the dead letters', make: (inner) => new Drops(inner, 'deadLetters'), caughtBy: ['stale-commit-refused', 'commit-all', 'commit-atomic', 'repeat-is-noop', 'dead-letters'] },
  { store: 'a commit that leaves out the dedupe ids', make: (inner) => new Drops(inner, 'appliedIds'), caughtBy: ['stale-commit-refused', 'commit-all', 'repeat-is-noop', 'two-instances', 'dedupe-window'] },
  { store: 'origin marks kept in the process, lost across a reload', make: (inner) => new MarksInProcess(inner), caughtBy: ['stale-commit-refused', 'commit-all', 'repeat-is-noop', 'two-instances', 'marks-exact', 'read-entity', 'read-atomic'] },
  { store: 'a dedupe window given back newest first', make: (inner) => new BentWindow(inner, (ids) => [...ids].reverse()), caughtBy: ['stale-commit-refused', 'commit-all', 'repeat-is-noop', 'two-instances', 'dedupe-window'] },
  { store: 'a dedupe window not kept across a claim', make: (inner) => new BentWindow(inner, () => []), caughtBy: ['stale-commit-refused', 'commit-all', 'repeat-is-noop', 'two-instances', 'dedupe-window'] },
  { store: 'dead letters written a step after the rest of the commit', make: (inner) => new LettersLater(inner), caughtBy: ['commit-atomic', 'repeat-is-noop'] },
  { store: 'a repeated commit that writes its dead letters again', make: (inner) => new RepeatsLetters(inner), caughtBy: ['repeat-is-noop'] },
  { store: 'a status() that claims the shard', make: (inner) => new StatusClaims(inner), caughtBy: ['claim-epochs', 'claims-concurrent', 'stale-commit-refused', 'commit-all', 'commit-atomic', 'repeat-is-noop', 'status-unknown-outcome', 'two-instances', 'unstorable-state'] },
  { store: 'states stored through Latin-1', make: (inner) => new Latin1States(inner), caughtBy: ['unstorable-state', 'entities'] },
  { store: 'a commit that writes the states before a BigInt one, then refuses with StateEncodingError', make: (inner) => new EncodesMidway(inner), caughtBy: ['unstorable-state'] },
  { store: 'a load() that invents states for keys never written', make: (inner) => new InventsStates(inner), caughtBy: ['stale-commit-refused', 'entities'] },
  { store: 'dead letters listed newest first', make: (inner) => new LettersNewestFirst(inner), caughtBy: ['dead-letters'] },
  { store: 'a read that takes the entity, then the position and mark in a second step', make: (inner) => new ReadsInTwoSteps(inner), caughtBy: ['read-atomic'] },
  { store: 'a read that hands out the stored state object', make: (inner) => new SharesStoredState(inner), caughtBy: ['read-entity'] },
  { store: 'a close() that throws the second time', make: (inner) => new ClosesOnce(inner), caughtBy: ['close-idempotent'] },
];

describe('the store conformance suite catches broken stores', () => {
  it('passes a store that only forwards to the memory store, and one that keeps epochs by the contract', async () => {
    expect(await failures((inner) => new Forwarding(inner))).toEqual([]);
    expect(await failures(epochs(CORRECT_EPOCHS))).toEqual([]);
  });

  for (const { store, make, caughtBy } of cases) {
    it(`fails ${store}: ${caughtBy.join(', ')}`, async () => {
      const failed = await failures(make);
      expect(failed.map((error) => error.check)).toEqual(storeChecks.map((check) => check.id).filter((id) => caughtBy.includes(id)));
      for (const error of failed) expect(error).toMatchObject({ code: 'STORE_CONFORMANCE', message: expect.stringContaining(`store check ${error.check} (`) });
    });
  }

  it('names the step, what was expected and what was got', async () => {
    await expect(
      runStoreCheck('claim-epochs', {
        name: 'ignores offers',
        dedupeWindow: WINDOW,
        async setup() {
          const inner = memoryStore();
          const make = epochs({ ...CORRECT_EPOCHS, next: (stored) => stored + 1 });
          return { create: () => make(inner) };
        },
      }),
    ).rejects.toMatchObject({ check: 'claim-epochs', message: expect.stringContaining('epoch of a claim offered 10 (stored 2): expected 10, got 3') });
  });

  it('refuses options it cannot run with, naming each', async () => {
    await expect(runStoreCheck('no-such-check', { name: 'x', dedupeWindow: WINDOW, setup: async () => ({ create: () => memoryStore() }) })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      issues: [expect.stringMatching(/^check: expected one of claim-epochs, .*, got "no-such-check"$/)],
    });
    await expect(runStoreCheck('claim-epochs', { name: '', dedupeWindow: 1, setup: 'nope' } as never)).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      issues: [expect.stringContaining('storeConformance.name'), expect.stringContaining('storeConformance.setup'), expect.stringContaining('storeConformance.dedupeWindow')],
    });
  });
});
