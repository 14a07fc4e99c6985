import { OutgoingCommand } from '../core/command.ts';
import type { DeadLetter } from '../state/dead-letters.ts';
import type { OutboxMessage } from '../state/state-store.ts';
import { commitOf, holds, loaded, plain, same, type StoreCheck } from './store-check-kit.ts';

/** Entity keys a store must keep apart and give back as they were: any string is a key. */
const ODD_KEYS = ['ключ-🔑-鍵', 'nul\u0000key', 'odd:{key}*?[x]%_\\', "quote\"'`", ' spaced out ', 'line\nbreak'];

/** States a store must give back exactly: JSON values of every kind, unicode and odd characters. */
const STATES = new Map<string, unknown>([
  ['acct-1', { open: true, balance: 1_000 }],
  ['nested', { a: { b: { c: [1, 2, { d: null }] } }, list: [], empty: {}, flag: false, zero: 0, negative: -12.5, big: Number.MAX_SAFE_INTEGER }],
  [ODD_KEYS[0]!, { 'ünïcødé': 'värde ✓', '🚀': ['🌍', 'ℵ'], 'quote"\'\\': 'back\\slash\nnew line\ttab', 'rtl': 'שלום' }],
  [ODD_KEYS[1]!, { text: 'nul\u0000inside', 'key\u0000nul': 1 }],
  [ODD_KEYS[2]!, 'a string state'],
  [ODD_KEYS[3]!, 42],
  [ODD_KEYS[4]!, [1, 'two', [3]]],
  [ODD_KEYS[5]!, null],
]);

/** Origins a store must keep apart and give back as they were. */
const ORIGINS = ['producer-1', 'producer-2', '~3', 'Ünïcødé 🚀', 'nul\u0000origin', 'x'];

const fullLetter: DeadLetter = {
  shard: 0,
  position: 11,
  value: '{"id":"c1","type":"transfer","key":"acct-ü","payload":{"amount":5},"sentAt":1}',
  id: 'c1',
  type: 'transfer',
  key: 'acct-ü',
  error: 'TypeError: balance is not a number ✗',
  attempts: 3,
  failedAt: 1_700_000_000_123,
};
const bareLetter: DeadLetter = { shard: 0, position: 12, value: '\u0000{not json ü "\\', error: 'decode: not JSON: Unexpected token', attempts: 0, failedAt: 1_700_000_000_456 };
const letterOf = (shard: number, position: number): DeadLetter => ({ shard, position, value: `v${position}`, error: `e${position}`, attempts: 1, failedAt: position });

const range = (from: number, count: number, prefix: string) => Array.from({ length: count }, (_, i) => `${prefix}${from + i}`);

/** Round trips: entities, origin marks, the dedupe window, the outbox and dead letters come back exactly. */
export const dataChecks: readonly StoreCheck[] = [
  {
    id: 'unstorable-state',
    title: 'a commit with a state JSON cannot carry (a BigInt) lands whole (a store that keeps states as they are) or is refused with StateEncodingError naming its key and writes nothing of the batch',
    async run({ open }) {
      const store = await open();
      const epoch = (await store.claim(0, 0)).epoch;
      await store.commit(0, commitOf(epoch, 0, { changes: new Map([['kept', { n: 1 }]]) }));
      const changes = new Map<string, unknown>([['fine', { n: 2 }], ['bad', { n: 10n }]]);
      let refusal: unknown;
      try {
        await store.commit(0, commitOf(epoch, 1, { changes, appliedIds: ['id-1'], marks: new Map([['origin-1', 1]]), deadLetters: [letterOf(0, 1)] }));
      } catch (error) {
        refusal = error ?? new Error('undefined was thrown');
      }
      if (refusal === undefined) {
        same('the shard after a commit with a BigInt state it accepted', await store.status(0), { epoch, position: 1 });
        same('the entities after it', await loaded(store, 0, ['kept', 'fine', 'bad']), new Map([['kept', { n: 1 }], ...changes]));
        return;
      }
      const { code, key } = refusal as { code?: unknown; key?: unknown };
      same('the refusal of a commit with a BigInt in the state of "bad" ({ code, key }; anything else leaves the owner retrying the batch forever)', { code, key }, { code: 'STATE_ENCODING', key: 'bad' });
      same('the shard after the refused commit', await store.status(0), { epoch, position: 0 });
      same('the entities after the refused commit', await loaded(store, 0, ['kept', 'fine', 'bad']), new Map([['kept', { n: 1 }]]));
      same('the dead letters after the refused commit', await store.deadLetters.list(10), []);
      same('the mark of origin-1 after the refused commit', (await store.read(0, 'kept', 'origin-1')).mark, undefined);
    },
  },
  {
    id: 'entities',
    title: 'entity states round-trip exactly, keys never written are absent, a commit replaces a state whole, and entries() lists every entity once',
    async run({ open }) {
      const writer = await open();
      const e0 = (await writer.claim(0, 0)).epoch;
      const e1 = (await writer.claim(1, 0)).epoch;
      const onShard0 = [...STATES].slice(0, 5);
      const onShard1 = [...STATES].slice(5);
      await writer.commit(0, commitOf(e0, 0, { changes: new Map(onShard0) }));
      await writer.commit(1, commitOf(e1, 0, { changes: new Map(onShard1) }));
      const reader = await open();
      same('shard 0 entities, and a key never written', await loaded(reader, 0, [...onShard0.map(([key]) => key), 'never-written']), new Map(onShard0));
      same('shard 1 entities', await loaded(reader, 1, onShard1.map(([key]) => key)), new Map(onShard1));
      same('load of keys never written', await loaded(reader, 0, ['never-written', 'Never-Written']), new Map());

      await writer.commit(0, commitOf(e0, 1, { changes: new Map([['nested', { only: 'this' }]]) }));
      same('a state replaced by a later commit', await loaded(reader, 0, ['nested', 'acct-1']), new Map<string, unknown>([['nested', { only: 'this' }], ['acct-1', { open: true, balance: 1_000 }]]));

      const listed: [string, unknown][] = [];
      for await (const entry of reader.entries()) listed.push(entry);
      const keys = listed.map(([key]) => key);
      holds('entries() must list each entity once', new Set(keys).size === keys.length, keys);
      same('entries()', new Map(listed), new Map([...STATES, ['nested', { only: 'this' }]]));
    },
  },
  {
    id: 'marks-exact',
    title: 'origin marks come back exactly across reloads: raised, forgotten, and forgotten then raised again in one commit',
    async run({ open }) {
      const first = await open();
      const e1 = (await first.claim(4, 0)).epoch;
      const marks = new Map(ORIGINS.map((origin, i) => [origin, i === 2 ? Number.MAX_SAFE_INTEGER : i * 3]));
      await first.commit(4, commitOf(e1, 0, { marks }));
      const second = await open();
      const reloaded = await second.claim(4, 0);
      same('marks after a reload', new Map(reloaded.marks), marks);

      // The owner forgot `x` to make room, then met `x` again in the same batch: it keeps x at 50.
      await second.commit(4, commitOf(reloaded.epoch, 1, {
        marks: new Map([['producer-1', 7], ['x', 50], ['new-origin', 0]]),
        forgottenMarks: ['producer-2', 'x', 'never-stored'],
      }));
      const expected = new Map(marks);
      expected.delete('producer-2');
      expected.set('producer-1', 7).set('x', 50).set('new-origin', 0);
      same('marks after raising, forgetting, and forgetting then raising `x`', new Map((await (await open()).claim(4, 0)).marks), expected);
    },
  },
  {
    id: 'dedupe-window',
    title: 'the dedupe window gives back the newest `dedupeWindow` ids, oldest first, across commits and reloads',
    async run({ open, dedupeWindow: window }) {
      const writer = await open();
      let epoch = (await writer.claim(6, 0)).epoch;
      let position = 0;
      const sent: string[] = [];
      const commit = async (ids: string[]) => {
        sent.push(...ids);
        await writer.commit(6, commitOf(epoch, position++, { appliedIds: ids }));
      };
      const windowNow = async (what: string) => {
        const snapshot = await (await open()).claim(6, 0);
        same(`recent ids ${what} (window ${window})`, [...snapshot.recentIds], sent.slice(-window));
        epoch = (await writer.claim(6, 0)).epoch;
      };
      await commit(['ïd-ü', 'id\u0000nul', ...range(0, window - 3, 'id-')]);
      await windowNow('after one commit one short of the window');
      await commit(range(100, 3, 'id-'));
      await windowNow('after three more ids');
      await commit(range(200, window + 2, 'id-'));
      await windowNow('after a commit larger than the window');
      await writer.commit(6, commitOf(epoch, position++, { changes: new Map([['k', 1]]) }));
      await windowNow('after a commit without ids');
    },
  },
  {
    id: 'outbox',
    title: 'the outbox is replaced by every commit and given back, in order, by the next claim',
    async run({ open }) {
      const command = (id: string, key: string) => new OutgoingCommand({ id, type: 'credit', key, payload: { amount: 1, note: 'ü "q"' }, sentAt: 1, origin: '~6', seq: 1 });
      const odd: OutboxMessage = { key: 'clé 🔑\u0000', value: '{"not":"a command","nul":"\\u0000 \u0000"}' };
      const steps: { what: string; outbox: OutboxMessage[] }[] = [
        { what: 'two follow-ups (one an encoded-on-read command)', outbox: [command('f1', 'b'), { key: 'c', value: 'plain value' }] },
        { what: 'a later commit with other follow-ups', outbox: [{ key: 'c', value: 'plain value' }, odd, command('f2', 'd')] },
        { what: 'a commit with no follow-ups', outbox: [] },
        { what: 'follow-ups again after an empty outbox', outbox: [command('f3', 'e')] },
      ];
      const writer = await open();
      let epoch = (await writer.claim(3, 0)).epoch;
      for (const [position, step] of steps.entries()) {
        await writer.commit(3, commitOf(epoch, position, { outbox: step.outbox }));
        const snapshot = await (await open()).claim(3, 0);
        same(`outbox after ${step.what}`, plain(snapshot.outbox), plain(step.outbox));
        epoch = (await writer.claim(3, 0)).epoch;
      }
    },
  },
  {
    id: 'dead-letters',
    title: 'dead letters are listed oldest first and newest last with every field, counted, and shared by every shard and instance',
    async run({ open, deadLetterCapacity }) {
      const writer = await open();
      const e0 = (await writer.claim(0, 0)).epoch;
      const e1 = (await writer.claim(1, 0)).epoch;
      same('dead letters of a new store', await writer.deadLetters.list(), []);
      same('dead letter count of a new store', await writer.deadLetters.count(), 0);
      await writer.commit(0, commitOf(e0, 12, { deadLetters: [fullLetter, bareLetter] }));
      const third = letterOf(1, 3);
      await writer.commit(1, commitOf(e1, 3, { deadLetters: [third] }));
      const reader = await open();
      same('dead letters listed', await reader.deadLetters.list(), [fullLetter, bareLetter, third]);
      same('the newest 2 dead letters', await reader.deadLetters.list(2), [bareLetter, third]);
      same('the newest dead letter', await reader.deadLetters.list(1), [third]);
      same('dead letter count', await reader.deadLetters.count(), 3);
      const added = letterOf(0, 99);
      await reader.deadLetters.add(added);
      same('the newest 2 dead letters after add()', await writer.deadLetters.list(2), [third, added]);
      same('dead letter count after add()', await writer.deadLetters.count(), 4);
      if (deadLetterCapacity === undefined) return;
      const more = Array.from({ length: deadLetterCapacity }, (_, i) => letterOf(0, 100 + i));
      await writer.commit(0, commitOf(e0, 13, { deadLetters: more }));
      same(`dead letters kept (capacity ${deadLetterCapacity})`, await reader.deadLetters.list(deadLetterCapacity + 10), more);
      same('dead letter count past the capacity', await reader.deadLetters.count(), 4 + deadLetterCapacity);
    },
  },
];
