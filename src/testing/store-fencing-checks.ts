import { OutgoingCommand } from '../core/command.ts';
import type { DeadLetter } from '../state/dead-letters.ts';
import type { ShardCommit } from '../state/state-store.ts';
import {
  commitOf,
  holds,
  loaded,
  plain,
  refusedStale,
  same,
  snapshotOf,
  statusOf,
  turn,
  type StoreCheck,
} from './store-check-kit.ts';

const letter = (shard: number, position: number, error: string): DeadLetter => ({
  shard,
  position,
  value: `{"broken":${position}`,
  error,
  attempts: 0,
  failedAt: 1_700_000_000_000 + position,
});

const followUp = (id: string, key: string) =>
  new OutgoingCommand({ id, type: 'credit', key, payload: { amount: 1 }, sentAt: 1_700_000_000_000, origin: '~1', seq: 1 });

/** A commit that touches every part a commit can write. */
function everything(epoch: number, position: number, shard: number, tag: string): ShardCommit {
  return commitOf(epoch, position, {
    changes: new Map<string, unknown>([[`${tag}-a`, { n: position }], [`${tag}-b`, { list: [tag] }]]),
    appliedIds: [`${tag}-id-1`, `${tag}-id-2`],
    marks: new Map([[`${tag}-origin`, position]]),
    outbox: [followUp(`${tag}-f`, `${tag}-target`)],
    deadLetters: [letter(shard, position, `${tag}: failed`)],
  });
}

/** Claims, fencing, atomicity and status: what keeps a shard to one writer and one history. */
export const fencingChecks: readonly StoreCheck[] = [
  {
    id: 'claim-epochs',
    title: 'claim sets the epoch to max(stored + 1, offered) and returns where the shard stands',
    async run({ open }) {
      const store = await open();
      same('status of shard 0, never claimed', await statusOf(store, 0), { epoch: 0, position: -1 });
      same('first claim of shard 0, offered 0', snapshotOf(await store.claim(0, 0)), { epoch: 1, position: -1, recentIds: [], marks: new Map(), outbox: [] });
      same('epoch of the second claim, offered 0 (stored 1)', (await store.claim(0, 0)).epoch, 2);
      same('epoch of a claim offered 10 (stored 2)', (await store.claim(0, 10)).epoch, 10);
      same('epoch of a claim offered 5 (stored 10)', (await store.claim(0, 5)).epoch, 11);
      same('epoch of a claim offered 11 (stored 11)', (await store.claim(0, 11)).epoch, 12);
      same('status of shard 0 after its claims', await statusOf(store, 0), { epoch: 12, position: -1 });
      same('status of shard 1, never claimed, after claims of shard 0', await statusOf(store, 1), { epoch: 0, position: -1 });
      same('epoch of the first claim of shard 1, offered 3', (await store.claim(1, 3)).epoch, 3);
      same('epoch of a claim of shard 0 by a second instance (stored 12)', (await (await open()).claim(0, 0)).epoch, 13);
    },
  },
  {
    id: 'claims-concurrent',
    title: 'concurrent claims from separate instances get distinct epochs, and only the last claimant can commit',
    async run({ open }) {
      const stores = await Promise.all(Array.from({ length: 6 }, () => open()));
      const epochs = await Promise.all(stores.map(async (store) => (await store.claim(2, 0)).epoch));
      same('epochs of 6 concurrent claims, sorted', [...epochs].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6]);
      for (const [i, store] of stores.entries()) {
        if (epochs[i] !== 6) await refusedStale(`commit of the claimant that got epoch ${epochs[i]}`, store.commit(2, commitOf(epochs[i]!, 0)), epochs[i]!, 6);
      }
      await stores[epochs.indexOf(6)]!.commit(2, commitOf(6, 0, { changes: new Map([['winner', true]]) }));
      same('status after the last claimant committed', await statusOf(stores[0]!, 2), { epoch: 6, position: 0 });
    },
  },
  {
    id: 'stale-commit-refused',
    title: 'a commit with any epoch but the current one is refused with STALE_EPOCH and writes nothing',
    async run({ open }) {
      const store = await open();
      const first = (await store.claim(3, 0)).epoch;
      await store.commit(3, everything(first, 4, 3, 'kept'));
      const second = (await store.claim(3, 0)).epoch;
      const zombie = commitOf(first, 9, {
        changes: new Map<string, unknown>([['kept-a', { n: 'zombie' }], ['zombie-new', { n: 1 }]]),
        appliedIds: ['zombie-id'],
        marks: new Map([['kept-origin', 99], ['zombie-origin', 1]]),
        forgottenMarks: ['kept-origin'],
        outbox: [followUp('zombie-f', 'zombie-target')],
        deadLetters: [letter(3, 9, 'zombie: failed')],
      });
      await refusedStale('commit with the epoch of the earlier claim', store.commit(3, zombie), first, second);
      await refusedStale('commit with an epoch never issued', store.commit(3, { ...zombie, epoch: second + 1 }), second + 1, second);

      const other = await open();
      same('status after the refused commits', await statusOf(other, 3), { epoch: second, position: 4 });
      same('entities after the refused commits', await loaded(other, 3, ['kept-a', 'kept-b', 'zombie-new']), new Map<string, unknown>([['kept-a', { n: 4 }], ['kept-b', { list: ['kept'] }]]));
      same('dead letters after the refused commits', await other.deadLetters.list(), [letter(3, 4, 'kept: failed')]);
      same('dead letter count after the refused commits', await other.deadLetters.count(), 1);
      const snapshot = snapshotOf(await other.claim(3, 0));
      same('snapshot after the refused commits', snapshot, {
        epoch: second + 1,
        position: 4,
        recentIds: ['kept-id-1', 'kept-id-2'],
        marks: new Map([['kept-origin', 4]]),
        outbox: plain([followUp('kept-f', 'kept-target')]),
      });
    },
  },
  {
    id: 'commit-all',
    title: 'a commit writes state, position, dedupe ids, origin marks, outbox and dead letters, and another instance sees all of them',
    async run({ open }) {
      const writer = await open();
      const epoch = (await writer.claim(1, 0)).epoch;
      await writer.commit(1, everything(epoch, 7, 1, 'all'));
      const reader = await open();
      same('status', await statusOf(reader, 1), { epoch, position: 7 });
      same('entities', await loaded(reader, 1, ['all-a', 'all-b']), new Map<string, unknown>([['all-a', { n: 7 }], ['all-b', { list: ['all'] }]]));
      same('dead letters', await reader.deadLetters.list(), [letter(1, 7, 'all: failed')]);
      same('dead letter count', await reader.deadLetters.count(), 1);
      same('snapshot of the next claim', snapshotOf(await reader.claim(1, 0)), {
        epoch: epoch + 1,
        position: 7,
        recentIds: ['all-id-1', 'all-id-2'],
        marks: new Map([['all-origin', 7]]),
        outbox: plain([followUp('all-f', 'all-target')]),
      });
      same('snapshot of shard 0, never written', snapshotOf(await reader.claim(0, 0)), { epoch: 1, position: -1, recentIds: [], marks: new Map(), outbox: [] });
    },
  },
  {
    id: 'commit-atomic',
    title: 'another instance reading while commits land never sees one half-written (state, position and dead letters together)',
    async run({ open }) {
      const writer = await open();
      const reader = await open();
      const epoch = (await writer.claim(0, 0)).epoch;
      const commits = 40;
      let writing = true;
      const writes = (async () => {
        try {
          for (let i = 0; i < commits; i++) {
            await writer.commit(0, commitOf(epoch, i, { changes: new Map([['atom', { i }]]), marks: new Map([['atom-origin', i]]), deadLetters: [letter(0, i, 'atom')] }));
          }
        } finally {
          writing = false;
        }
      })();
      // The writes' outcome is taken once the reads are done; a read that fails the check
      // first must not leave the writes' failure unhandled.
      const written = writes.then(() => undefined, (error: unknown) => ({ error }));
      let reads = 0;
      while (writing || reads === 0) {
        const before = (await reader.status(0)).position;
        const state = (await loaded(reader, 0, ['atom'])).get('atom') as { i: number } | undefined;
        const letters = (await reader.deadLetters.count()) - 1;
        const after = (await reader.status(0)).position;
        const entity = state?.i ?? -1;
        const seen = { positionBefore: before, entity, lastDeadLetter: letters, positionAfter: after };
        holds(`read ${reads}: a position read before the entity must not be ahead of it`, before <= entity, seen);
        holds(`read ${reads}: an entity read before the position must not be ahead of it`, entity <= after, seen);
        holds(`read ${reads}: a position read before the dead letters must not be ahead of them`, before <= letters, seen);
        holds(`read ${reads}: dead letters read before the position must not be ahead of it`, letters <= after, seen);
        reads++;
        await turn();
      }
      const failed = await written;
      if (failed !== undefined) throw failed.error;
      same('status after every commit', await statusOf(reader, 0), { epoch, position: commits - 1 });
    },
  },
  {
    id: 'repeat-is-noop',
    title: 'a commit repeated after its reply was lost (at or below the stored position) changes nothing',
    async run({ open }) {
      const store = await open();
      const epoch = (await store.claim(2, 0)).epoch;
      const first = commitOf(epoch, 3, {
        changes: new Map([['k', { n: 1 }]]),
        appliedIds: ['r1', 'r2'],
        marks: new Map([['p', 5]]),
        outbox: [followUp('f1', 'target')],
        deadLetters: [letter(2, 3, 'first')],
      });
      await store.commit(2, first);
      await store.commit(2, first).catch(() => undefined);
      same('dead letter count after a repeated commit', await store.deadLetters.count(), 1);
      await store.commit(2, commitOf(epoch, 4, { changes: new Map([['k', { n: 2 }]]), appliedIds: ['r3'], marks: new Map([['p', 6]]) }));
      await store.commit(2, first).catch(() => undefined);
      const other = await open();
      same('status after a late repeat of an earlier commit', await statusOf(other, 2), { epoch, position: 4 });
      same('entity after a late repeat of an earlier commit', await loaded(other, 2, ['k']), new Map([['k', { n: 2 }]]));
      same('dead letters after the repeats', await other.deadLetters.list(), [letter(2, 3, 'first')]);
      same('snapshot after the repeats', snapshotOf(await other.claim(2, 0)), {
        epoch: epoch + 1,
        position: 4,
        recentIds: ['r1', 'r2', 'r3'],
        marks: new Map([['p', 6]]),
        outbox: [],
      });
    },
  },
  {
    id: 'status-unknown-outcome',
    title: 'status() tells whether a commit whose reply was lost landed, from any instance, without claiming',
    async run({ open }) {
      const owner = await open();
      const epoch = (await owner.claim(5, 0)).epoch;
      same('status of the claimed shard before any commit', await statusOf(owner, 5), { epoch, position: -1 });
      await owner.commit(5, commitOf(epoch, 8, { changes: new Map([['u', 1]]) }));
      const reconnected = await open();
      same('status read by another instance after a commit that landed', await statusOf(reconnected, 5), { epoch, position: 8 });
      same('status read by the committing instance', await statusOf(owner, 5), { epoch, position: 8 });
      await owner.commit(5, commitOf(epoch, 9, { changes: new Map([['u', 2]]) }));
      same('status after a commit that followed the status reads (status must not claim)', await statusOf(reconnected, 5), { epoch, position: 9 });
      const usurper = (await reconnected.claim(5, 0)).epoch;
      await refusedStale('commit after another instance claimed', owner.commit(5, commitOf(epoch, 10, { changes: new Map([['u', 3]]) })), epoch, usurper);
      same('status after a commit that did not land', await statusOf(owner, 5), { epoch: usurper, position: 9 });
      same('entity after a commit that did not land', await loaded(owner, 5, ['u']), new Map([['u', 2]]));
    },
  },
  {
    id: 'two-instances',
    title: 'two instances over one backend act as two processes: a claim by one fences the other and sees what it committed',
    async run({ open }) {
      const a = await open();
      const b = await open();
      const first = (await a.claim(7, 0)).epoch;
      await a.commit(7, everything(first, 2, 7, 'a'));
      const taken = snapshotOf(await b.claim(7, 0));
      holds(`epoch of b's claim must be above a's ${first}`, taken.epoch > first, taken.epoch);
      same("b's snapshot", taken, { epoch: taken.epoch, position: 2, recentIds: ['a-id-1', 'a-id-2'], marks: new Map([['a-origin', 2]]), outbox: plain([followUp('a-f', 'a-target')]) });
      same("a's entities seen by b", await loaded(b, 7, ['a-a']), new Map([['a-a', { n: 2 }]]));
      await refusedStale("a's commit after b claimed", a.commit(7, commitOf(first, 3, { changes: new Map([['a-a', { n: 'lost' }]]) })), first, taken.epoch);
      same("status seen by a after b's claim", await statusOf(a, 7), { epoch: taken.epoch, position: 2 });
      await b.commit(7, commitOf(taken.epoch, 3, { changes: new Map([['a-a', { n: 'b' }]]) }));
      const again = (await a.claim(7, 0)).epoch;
      await refusedStale("b's commit after a claimed again", b.commit(7, commitOf(taken.epoch, 4)), taken.epoch, again);
      same("b's entity seen by a", await loaded(a, 7, ['a-a']), new Map([['a-a', { n: 'b' }]]));
      same('status after both', await statusOf(b, 7), { epoch: again, position: 3 });
    },
  },
  {
    id: 'close-idempotent',
    title: 'close() may be called twice, and closing one instance leaves the others working',
    async run({ open }) {
      const closing = await open();
      const staying = await open();
      await closing.claim(0, 0);
      await closing.close();
      await closing.close();
      const epoch = (await staying.claim(0, 0)).epoch;
      same('epoch claimed after another instance closed', epoch, 2);
      await staying.commit(0, commitOf(epoch, 0, { changes: new Map([['after-close', true]]) }));
      same('entity committed after another instance closed', await loaded(staying, 0, ['after-close']), new Map([['after-close', true]]));
    },
  },
];
