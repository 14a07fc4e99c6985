import { z } from 'zod';
import { defineDomain } from '../core/domain.ts';

/** One bank account. Money is counted in whole cents. */
export interface Account {
  readonly open: boolean;
  readonly balance: number;
}

const cents = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/**
 * The example domain: bank accounts. A transfer never holds two accounts at once: it
 * debits the source (rejected on insufficient funds), then emits a credit to the target;
 * a credit to an account that is not open emits a refund back to the source. `credit`
 * and `refund` are internal: producers send `open`, `deposit`, `withdraw` and `transfer`.
 */
export const accounts = defineDomain({
  name: 'accounts',
  initial: (): Account => ({ open: false, balance: 0 }),
  commands: {
    open: z.object({ initialBalance: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).default(0) }),
    deposit: z.object({ amount: cents }),
    withdraw: z.object({ amount: cents }),
    transfer: z.object({ to: z.string().min(1).max(1024), amount: cents }),
    credit: z.object({ from: z.string().min(1).max(1024), amount: cents }),
    refund: z.object({ to: z.string().min(1).max(1024), amount: cents }),
  },
  // Only transfers and credits emit these: a producer that could send a credit would mint money.
  internal: ['credit', 'refund'],
}).handle({
  open(state, { initialBalance }, ctx) {
    if (state.open) ctx.reject('account already open');
    return { state: { open: true, balance: initialBalance }, reply: { balance: initialBalance } };
  },
  deposit(state, { amount }, ctx) {
    if (!state.open) ctx.reject('account not open');
    const balance = state.balance + amount;
    return { state: { open: true, balance }, reply: { balance } };
  },
  withdraw(state, { amount }, ctx) {
    if (!state.open) ctx.reject('account not open');
    if (state.balance < amount) ctx.reject('insufficient funds', { balance: state.balance, amount });
    const balance = state.balance - amount;
    return { state: { open: true, balance }, reply: { balance } };
  },
  transfer(state, { to, amount }, ctx) {
    if (!state.open) ctx.reject('account not open');
    if (to === ctx.key) ctx.reject('cannot transfer to the same account');
    if (state.balance < amount) ctx.reject('insufficient funds', { balance: state.balance, amount });
    ctx.emit('credit', to, { from: ctx.key, amount });
    const balance = state.balance - amount;
    return { state: { open: true, balance }, reply: { balance } };
  },
  credit(state, { from, amount }, ctx) {
    if (!state.open) {
      ctx.emit('refund', from, { to: ctx.key, amount });
      return { state, reply: { credited: false } };
    }
    return { state: { open: true, balance: state.balance + amount }, reply: { credited: true } };
  },
  refund(state, { amount }) {
    return { state: { open: state.open, balance: state.balance + amount }, reply: { refunded: amount } };
  },
});

export type Accounts = typeof accounts;
