import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { defineDomain, type ParamsOf, type QueryName, type QueryResultOf } from '../../src/core/domain.ts';
import { accounts, type Account } from '../../src/domains/accounts.ts';
import { Reader, type ReadResult } from '../../src/runtime/reader.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';

const reader = new Reader({ domain: accounts, store: new MemoryStateStore(), transport: new MemoryTransport() });

describe('typed queries', () => {
  it('names exactly the queries the domain resolves, with their params and result types', () => {
    expectTypeOf<QueryName<typeof accounts>>().toEqualTypeOf<'balance' | 'canAfford'>();
    expectTypeOf<ParamsOf<typeof accounts, 'balance'>>().toEqualTypeOf<Record<string, never>>();
    expectTypeOf<ParamsOf<typeof accounts, 'canAfford'>>().toEqualTypeOf<{ amount: number }>();
    expectTypeOf<QueryResultOf<typeof accounts, 'balance'>>().toEqualTypeOf<number>();
    expectTypeOf<QueryResultOf<typeof accounts, 'canAfford'>>().toEqualTypeOf<boolean>();
  });

  it('a query resolves with its result and where in the shard it was read; get with the raw state', () => {
    expectTypeOf(reader.query('balance', 'alice', {})).resolves.toEqualTypeOf<ReadResult<number>>();
    expectTypeOf(reader.query('canAfford', 'alice', { amount: 5 })).resolves.toEqualTypeOf<ReadResult<boolean>>();
    expectTypeOf(reader.get('alice')).resolves.toEqualTypeOf<ReadResult<Account>>();
    expectTypeOf<ReadResult<number>['position']>().toEqualTypeOf<number>();
    expectTypeOf<ReadResult<number>['epoch']>().toEqualTypeOf<number>();
  });

  it('refuses a wrong query name, wrong params, a wrong result type and bad options at compile time', () => {
    // @ts-expect-error: 'history' is not a query of the accounts domain
    void reader.query('history', 'alice', {});
    // @ts-expect-error: transfer is a command, not a query
    void reader.query('transfer', 'alice', { to: 'bob', amount: 1 });
    // @ts-expect-error: canAfford needs an amount
    void reader.query('canAfford', 'alice', {});
    // @ts-expect-error: amount is a number
    void reader.query('canAfford', 'alice', { amount: '5' });
    // @ts-expect-error: the key is a string
    void reader.query('balance', 42, {});
    // @ts-expect-error: consistency is 'committed' or 'owner'
    void reader.get('alice', { consistency: 'eventual' });
    void reader.query('balance', 'alice', {}).then((read) => {
      // @ts-expect-error: a balance is a number
      const text: string = read.value;
      return text;
    });
  });

  it('types resolvers by the state and each query params schema, and requires exactly the declared queries', () => {
    const definition = defineDomain({
      name: 'stock',
      initial: () => ({ units: 0, reserved: 0 }),
      commands: { restock: z.object({ units: z.number().int() }) },
      queries: { free: z.object({}), covers: z.object({ units: z.number().int() }) },
    }).handle({ restock: (state, { units }) => ({ state: { ...state, units: state.units + units } }) });
    const stock = definition.query({
      free(state, params) {
        expectTypeOf(state).toEqualTypeOf<{ units: number; reserved: number }>();
        expectTypeOf(params).toEqualTypeOf<Record<string, never>>();
        return state.units - state.reserved;
      },
      covers: (state, { units }) => state.units - state.reserved >= units,
    });
    expectTypeOf<QueryName<typeof stock>>().toEqualTypeOf<'free' | 'covers'>();
    expectTypeOf<QueryResultOf<typeof stock, 'covers'>>().toEqualTypeOf<boolean>();
    // Declared but not resolved yet: nothing to ask.
    expectTypeOf<QueryName<typeof definition>>().toBeNever();

    // @ts-expect-error: no resolver for 'covers'
    definition.query({ free: (state) => state.units });
    definition.query({
      free: (state) => state.units,
      covers: () => true,
      // @ts-expect-error: 'history' is not a declared query
      history: () => [],
    });
    definition.query({
      free: (state) => state.units,
      // @ts-expect-error: units is a number, not a string
      covers: (_state, params: { units: string }) => params.units.length > 0,
    });
  });

  it('a domain without queries has none to ask', () => {
    const plain = defineDomain({ name: 'plain', initial: () => 0, commands: { inc: z.object({}) } }).handle({ inc: (state) => ({ state: state + 1 }) });
    expectTypeOf<QueryName<typeof plain>>().toBeNever();
    const plainReader = new Reader({ domain: plain, store: new MemoryStateStore(), transport: new MemoryTransport() });
    expectTypeOf(plainReader.get('x')).resolves.toEqualTypeOf<ReadResult<number>>();
    // @ts-expect-error: the domain has no queries
    void plainReader.query('anything', 'x', {});
  });
});
