import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  defineDomain,
  type CommandType,
  type InternalCommandType,
  type PayloadOf,
  type PublicCommandType,
  type ReplyOf,
  type StateOf,
} from '../../src/core/domain.ts';
import { accounts, type Account } from '../../src/domains/accounts.ts';
import { Producer, type CommandInput, type Receipt, type SendOutcome } from '../../src/runtime/producer.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';

const producer = new Producer({ domain: accounts, transport: new MemoryTransport() });

describe('the typed domain API', () => {
  it('names exactly the command types of the domain', () => {
    expectTypeOf<CommandType<typeof accounts>>().toEqualTypeOf<'open' | 'deposit' | 'withdraw' | 'transfer' | 'credit' | 'refund'>();
    expectTypeOf<StateOf<typeof accounts>>().toEqualTypeOf<Account>();
  });

  it('types each payload by its schema (input side: defaults are optional)', () => {
    expectTypeOf<PayloadOf<typeof accounts, 'deposit'>>().toEqualTypeOf<{ amount: number }>();
    expectTypeOf<PayloadOf<typeof accounts, 'transfer'>>().toEqualTypeOf<{ to: string; amount: number }>();
    expectTypeOf<PayloadOf<typeof accounts, 'open'>>().toEqualTypeOf<{ initialBalance?: number | undefined }>();
    expectTypeOf(producer.send<'deposit'>).parameter(2).toEqualTypeOf<{ amount: number }>();
    expectTypeOf(producer.send<'transfer'>).parameter(2).toEqualTypeOf<{ to: string; amount: number }>();
  });

  it('send resolves with a receipt; sendMany with one outcome per command', () => {
    expectTypeOf(producer.send('deposit', 'alice', { amount: 5 })).resolves.toEqualTypeOf<Receipt>();
    expectTypeOf(producer.sendMany([{ type: 'deposit', key: 'a', payload: { amount: 1 } }])).resolves.toEqualTypeOf<SendOutcome[]>();
    expectTypeOf<{ type: 'deposit'; key: string; payload: { amount: number } }>().toExtend<CommandInput<typeof accounts>>();
  });

  it('request resolves with the reply type of that command handler', () => {
    expectTypeOf(producer.request('deposit', 'alice', { amount: 5 })).resolves.toEqualTypeOf<{ balance: number }>();
    expectTypeOf(producer.request('open', 'alice', {})).resolves.toEqualTypeOf<{ balance: number }>();
    expectTypeOf<ReplyOf<typeof accounts, 'refund'>>().toEqualTypeOf<{ refunded: number }>();
    expectTypeOf<ReplyOf<typeof accounts, 'credit'>>().toExtend<{ credited: boolean }>();
    expectTypeOf<{ credited: true }>().toExtend<ReplyOf<typeof accounts, 'credit'>>();
    expectTypeOf<{ credited: false }>().toExtend<ReplyOf<typeof accounts, 'credit'>>();
  });

  it('rejects a wrong command name, a wrong payload and a missing field at compile time', () => {
    // @ts-expect-error: 'steal' is not a command of the accounts domain
    void producer.send('steal', 'alice', { amount: 5 });
    // @ts-expect-error: amount must be a number
    void producer.send('deposit', 'alice', { amount: '5' });
    // @ts-expect-error: a transfer needs its target
    void producer.send('transfer', 'alice', { amount: 5 });
    // @ts-expect-error: the payload of deposit has no field 'to'
    void producer.request('deposit', 'alice', { amount: 5, to: 'bob' });
    // @ts-expect-error: the key is a string
    void producer.send('deposit', 42, { amount: 5 });
    void producer.sendMany([
      // @ts-expect-error: the payload does not match the type in the same entry
      { type: 'deposit', key: 'a', payload: { to: 'b', amount: 1 } },
    ]);
  });

  it('keeps internal command types from producers', () => {
    expectTypeOf<InternalCommandType<typeof accounts>>().toEqualTypeOf<'credit' | 'refund'>();
    expectTypeOf<PublicCommandType<typeof accounts>>().toEqualTypeOf<'open' | 'deposit' | 'withdraw' | 'transfer'>();
    // @ts-expect-error: credit is internal: only the domain's handlers emit it
    void producer.send('credit', 'alice', { from: 'bob', amount: 5 });
    // @ts-expect-error: refund is internal
    void producer.request('refund', 'alice', { to: 'bob', amount: 5 });
    void producer.sendMany([
      // @ts-expect-error: credit is internal
      { type: 'credit', key: 'a', payload: { from: 'b', amount: 1 } },
    ]);
    expectTypeOf<{ type: 'credit'; key: string; payload: { from: string; amount: number } }>().not.toExtend<CommandInput<typeof accounts>>();
  });

  it('types handlers by their own schema, and lets ctx.emit only known command types with their payloads', () => {
    const shop = defineDomain({
      name: 'shop',
      initial: () => ({ stock: 0 }),
      commands: {
        restock: z.object({ units: z.number().int() }),
        sell: z.object({ units: z.number().int(), buyer: z.string() }),
        notify: z.object({ message: z.string() }),
      },
      internal: ['notify'],
    }).handle({
      restock(state, payload, ctx) {
        expectTypeOf(payload).toEqualTypeOf<{ units: number }>();
        expectTypeOf(state).toEqualTypeOf<{ stock: number }>();
        expectTypeOf(ctx.timestamp).toEqualTypeOf<number>();
        expectTypeOf(ctx.reject).returns.toBeNever();
        ctx.emit('notify', 'ops', { message: 'restocked' });
        // @ts-expect-error: 'audit' is not a command type of the domain
        ctx.emit('audit', 'ops', { message: 'restocked' });
        // @ts-expect-error: notify takes { message: string }
        ctx.emit('notify', 'ops', { text: 'restocked' });
        return { state: { stock: state.stock + payload.units } };
      },
      sell(state, { units, buyer }, ctx) {
        expectTypeOf(buyer).toEqualTypeOf<string>();
        if (state.stock < units) ctx.reject('out of stock', { stock: state.stock });
        return { state: { stock: state.stock - units }, reply: { left: state.stock - units } };
      },
      notify: (state) => ({ state }),
    });
    const shopProducer = new Producer({ domain: shop, transport: new MemoryTransport() });
    expectTypeOf(shopProducer.request('sell', 'x', { units: 1, buyer: 'b' })).resolves.toEqualTypeOf<{ left: number }>();
    expectTypeOf(shopProducer.request('restock', 'x', { units: 1 })).resolves.toEqualTypeOf<undefined>();
    // @ts-expect-error: notify is internal to the shop: its handlers emit it (as restock does above)
    void shopProducer.send('notify', 'ops', { message: 'hi' });
    expectTypeOf<InternalCommandType<typeof shop>>().toEqualTypeOf<'notify'>();
  });

  it('refuses an internal list naming a type the domain does not declare', () => {
    defineDomain({
      name: 'pair',
      initial: () => 0,
      commands: { inc: z.object({}), dec: z.object({}) },
      // @ts-expect-error: 'reset' is not a command of the domain
      internal: ['dec', 'reset'],
    });
    const none = defineDomain({ name: 'plain', initial: () => 0, commands: { inc: z.object({}) } }).handle({ inc: (state) => ({ state }) });
    expectTypeOf<InternalCommandType<typeof none>>().toBeNever();
    expectTypeOf<PublicCommandType<typeof none>>().toEqualTypeOf<'inc'>();
  });

  it('refuses a handler set that misses a command or handles one the domain does not declare', () => {
    const definition = defineDomain({
      name: 'pair',
      initial: () => 0,
      commands: { inc: z.object({}), dec: z.object({}) },
    });
    // @ts-expect-error: no handler for 'dec'
    definition.handle({ inc: (state: number) => ({ state: state + 1 }) });
    definition.handle({
      inc: (state) => ({ state: state + 1 }),
      dec: (state) => ({ state: state - 1 }),
      // @ts-expect-error: 'reset' is not a command of the domain
      reset: () => ({ state: 0 }),
    });
    definition.handle({
      // @ts-expect-error: a handler must return { state } of the entity's state type
      inc: (state) => ({ state: String(state) }),
      dec: (state) => ({ state: state - 1 }),
    });
  });
});
