import type { EntityRead, StateStore } from '../state/state-store.ts';
import { commitOf, holds, same, turn, type StoreCheck } from './store-check-kit.ts';

/** `read()` as a plain object, to compare whole. */
async function readOf(store: StateStore, shard: number, key: string, origin?: string): Promise<EntityRead> {
  const { found, state, position, epoch, mark } = await store.read(shard, key, origin);
  return { found, state, position, epoch, mark };
}

const nothing = (epoch: number, position: number): EntityRead => ({ found: false, state: undefined, position, epoch, mark: undefined });

/** What readers rely on: one entity, its shard's position and epoch and an origin's mark, from one moment. */
export const readChecks: readonly StoreCheck[] = [
  {
    id: 'read-entity',
    title: 'read gives one entity exactly, with the shard\'s position, epoch and the asked origin\'s mark; absent what was never written',
    async run({ open }) {
      const writer = await open();
      const reader = await open();
      same('read of a shard never claimed', await readOf(reader, 2, 'k'), nothing(0, -1));
      same('read of a shard never claimed, asking for a mark', await readOf(reader, 2, 'k', 'producer-1'), nothing(0, -1));
      const epoch = (await writer.claim(2, 0)).epoch;
      same('read of a claimed shard without commits', await readOf(reader, 2, 'k', 'producer-1'), nothing(epoch, -1));

      const states = new Map<string, unknown>([
        ['acct-ü 🔑', { open: true, balance: 1_000, note: 'nul\u0000 "q"' }],
        ['nul\u0000key', [1, 'two']],
        ['null-state', null],
      ]);
      await writer.commit(2, commitOf(epoch, 7, { changes: states, marks: new Map([['producer-1', 4], ['Ünï\u0000', 9]]) }));
      for (const [key, state] of states) {
        same(`read of ${JSON.stringify(key)} with origin producer-1`, await readOf(reader, 2, key, 'producer-1'), { found: true, state, position: 7, epoch, mark: 4 });
      }
      const copy = (await reader.read(2, 'acct-ü 🔑')).state as { balance: number };
      copy.balance = -1;
      same('a read after the state an earlier read gave was changed by its caller', (await readOf(reader, 2, 'acct-ü 🔑')).state, { open: true, balance: 1_000, note: 'nul\u0000 "q"' });
      same('read asking for an odd origin', (await readOf(reader, 2, 'null-state', 'Ünï\u0000')).mark, 9);
      same('read asking for no origin', await readOf(reader, 2, 'null-state'), { found: true, state: null, position: 7, epoch, mark: undefined });
      same('read asking for an origin never applied', (await readOf(reader, 2, 'null-state', 'producer-2')).mark, undefined);
      same('read of a key never written on a shard with commits', await readOf(reader, 2, 'never-written', 'producer-1'), { ...nothing(epoch, 7), mark: 4 });
      same('read of a key written on another shard', await readOf(reader, 3, 'null-state'), nothing(0, -1));

      const next = (await (await open()).claim(2, 0)).epoch;
      same('read after another instance claimed the shard: the new epoch, the last commit', await readOf(reader, 2, 'null-state', 'producer-1'), { found: true, state: null, position: 7, epoch: next, mark: 4 });
      await writer.commit(2, commitOf(epoch, 8, { changes: new Map([['null-state', 'overwritten']]) })).catch(() => undefined);
      same('read after a stale commit was refused', (await readOf(reader, 2, 'null-state')).state, null);

      await (await open()).commit(2, commitOf(next, 8, { changes: new Map([['null-state', { v: 2 }]]), forgottenMarks: ['producer-1'] }));
      same('read after a commit that forgot producer-1', await readOf(reader, 2, 'null-state', 'producer-1'), { found: true, state: { v: 2 }, position: 8, epoch: next, mark: undefined });
    },
  },
  {
    id: 'read-atomic',
    title: 'reads while commits land never see one half-written: state, position and mark always come from the same commit, and never go back',
    async run({ open }) {
      const writer = await open();
      const reader = await open();
      const epoch = (await writer.claim(0, 0)).epoch;
      const commits = 60;
      let writing = true;
      const writes = (async () => {
        try {
          for (let i = 0; i < commits; i++) {
            await writer.commit(0, commitOf(epoch, i, { changes: new Map([['a', { at: i }], ['b', { at: i }]]), marks: new Map([['writer', i]]) }));
            await turn();
          }
        } finally {
          writing = false;
        }
      })();
      // Taken once the reads are done: a read that fails first leaves no unhandled rejection.
      const written = writes.then(() => undefined, (error: unknown) => ({ error }));
      let reads = 0;
      let last = -1;
      while (writing || reads === 0) {
        const read = await readOf(reader, 0, reads % 2 === 0 ? 'a' : 'b', 'writer');
        const at = read.found ? (read.state as { at: number }).at : -1;
        const seen = { read: reads, entity: at, position: read.position, mark: read.mark ?? -1 };
        holds(`read ${reads}: the entity must be the one the read's position committed`, at === read.position, seen);
        holds(`read ${reads}: the mark must be the one the read's position committed`, (read.mark ?? -1) === read.position, seen);
        holds(`read ${reads}: the position must not go back (was ${last})`, read.position >= last, seen);
        last = read.position;
        reads++;
        await turn();
      }
      const failed = await written;
      if (failed !== undefined) throw failed.error;
      same('read after every commit', await readOf(reader, 0, 'a', 'writer'), { found: true, state: { at: commits - 1 }, position: commits - 1, epoch, mark: commits - 1 });
    },
  },
];
