import { randomBytes } from 'node:crypto';
import {
  accounts,
  MemoryStateStore,
  Owner,
  Producer,
  silentLogger,
  TimeoutError,
  type Account,
  type ApplyOutcome,
  type RuntimeObserver,
} from '../../src/index.ts';
import { NatsTransport } from './nats-transport.ts';
import type { NatsTransportOptions } from './options.ts';

/** What to run; every field but `servers` has a default sized for a quick run on a laptop. */
export interface AccountsDemoOptions {
  readonly servers: string;
  /** Subject and stream prefix; a fresh one per run by default, so runs never meet. */
  readonly prefix?: string;
  readonly accounts?: number;
  /** Of which this many receive most transfers (hot keys). */
  readonly hotAccounts?: number;
  readonly transfers?: number;
  /** Concurrent producer tasks. */
  readonly tasks?: number;
  readonly initialBalance?: number;
  readonly shards?: number;
  readonly capacity?: number;
  /** Start a second owner a third of the way through and stop the first at two thirds. */
  readonly handOver?: boolean;
  /** Longest the whole run may take. */
  readonly timeoutMs?: number;
}

/** The outcome, in the fields `shardline demo --json` reports, plus what the hand-over did. */
export interface AccountsDemoSummary {
  readonly commands: number;
  readonly applied: number;
  readonly rejected: number;
  readonly failed: number;
  readonly duplicates: number;
  readonly transfersAccepted: number;
  readonly transfersApplied: number;
  readonly transfersRejected: number;
  readonly moneyBefore: number;
  readonly moneyAfter: number;
  readonly negativeBalances: number;
  readonly maxDepth: number;
  readonly capacity: number;
  readonly followUpsForced: number;
  readonly shardsGained: number;
  readonly commandsPerSec: number;
}

/** Counts what the owners did, across owners (one observer is shared). */
class Tally implements RuntimeObserver {
  readonly outcomes = new Map<string, number>();
  forced = 0;
  gained = 0;

  applied(type: string, outcome: ApplyOutcome, count: number): void {
    const key = `${type}:${outcome}`;
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + count);
  }

  followUpsForced(_shard: number, count: number): void {
    this.forced += count;
  }

  ownership(_shard: number, _epoch: number, event: 'gained' | 'lost'): void {
    if (event === 'gained') this.gained++;
  }

  count(type: string, outcome: ApplyOutcome): number {
    return this.outcomes.get(`${type}:${outcome}`) ?? 0;
  }

  total(outcome: ApplyOutcome): number {
    let sum = 0;
    for (const [key, count] of this.outcomes) if (key.endsWith(`:${outcome}`)) sum += count;
    return sum;
  }
}

/**
 * The accounts demo on NATS JetStream: owners and a producer, each with its own transport
 * (as separate processes would have), opening accounts and then sending random transfers
 * from concurrent tasks while ownership moves between owners. Owners share one state
 * store, standing in for the Redis store that separate processes would share.
 */
export async function runAccountsDemo(options: AccountsDemoOptions): Promise<AccountsDemoSummary> {
  const o = {
    prefix: `demo${randomBytes(4).toString('hex')}`,
    accounts: 100,
    hotAccounts: 5,
    transfers: 2_000,
    tasks: 8,
    initialBalance: 1_000,
    shards: 4,
    capacity: 64,
    handOver: true,
    timeoutMs: 60_000,
    ...options,
  };
  const deadline = Date.now() + o.timeoutMs;
  const transportOptions: NatsTransportOptions = { servers: o.servers, prefix: o.prefix, shards: o.shards, capacity: o.capacity, leaseTtlMs: 1_500 };
  const transport = () => new NatsTransport(transportOptions, { domain: accounts.name, logger: silentLogger });
  const tally = new Tally();
  const store = new MemoryStateStore();
  const ownerTransports = [transport()];
  const owners = [new Owner({ domain: accounts, transport: ownerTransports[0]!, store, observer: tally })];
  const producerTransport = transport();
  const producer = new Producer({ domain: accounts, transport: producerTransport, enqueueTimeoutMs: 30_000, requestTimeoutMs: 30_000 });
  let maxDepth = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const depths = await Promise.all(Array.from({ length: o.shards }, (_, shard) => producerTransport.depth(shard)));
      maxDepth = Math.max(maxDepth, ...depths);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();

  try {
    await owners[0]!.start();
    const keys = Array.from({ length: o.accounts }, (_, i) => `acct-${i}`);
    await Promise.all(keys.map((key) => producer.request('open', key, { initialBalance: o.initialBalance })));
    const started = performance.now();
    let sent = 0;
    let accepted = 0;
    const pick = () => keys[Math.random() < 0.5 ? Math.floor(Math.random() * o.hotAccounts) : Math.floor(Math.random() * o.accounts)]!;
    let stage = 0;
    let moving: Promise<void> = Promise.resolve();
    const moveOwnership = () => {
      if (!o.handOver) return;
      if (stage === 0 && sent >= o.transfers / 3) {
        stage = 1;
        const joining = transport();
        ownerTransports.push(joining);
        const second = new Owner({ domain: accounts, transport: joining, store, observer: tally });
        owners.push(second);
        moving = moving.then(() => second.start());
      } else if (stage === 1 && sent >= (2 * o.transfers) / 3) {
        stage = 2;
        const [first, leaving] = [owners[0]!, ownerTransports[0]!];
        moving = moving.then(async () => {
          await first.close();
          await leaving.close();
        });
      }
    };
    await Promise.all(
      Array.from({ length: o.tasks }, async () => {
        while (sent < o.transfers && Date.now() < deadline) {
          sent++;
          let to = pick();
          const from = pick();
          if (to === from) to = keys[(keys.indexOf(from) + 1) % keys.length]!;
          await producer.send('transfer', from, { to, amount: 1 + Math.floor(Math.random() * 200) });
          accepted++;
          moveOwnership();
        }
      }),
    );
    await producer.flush();
    await moving;

    const settled = () =>
      tally.count('transfer', 'ok') + tally.count('transfer', 'rejected') === accepted &&
      tally.count('credit', 'ok') === tally.count('transfer', 'ok') &&
      tally.count('refund', 'ok') === 0;
    while (!settled()) {
      if (Date.now() > deadline) throw new TimeoutError('accounts demo', o.timeoutMs, `not settled: ${JSON.stringify(Object.fromEntries(tally.outcomes))}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const seconds = (performance.now() - started) / 1000;

    let moneyAfter = 0;
    let negativeBalances = 0;
    for await (const [, state] of store.entries()) {
      const balance = (state as Account).balance;
      moneyAfter += balance;
      if (balance < 0) negativeBalances++;
    }
    return {
      commands: accepted + tally.count('credit', 'ok'),
      applied: tally.total('ok'),
      rejected: tally.total('rejected'),
      failed: tally.total('failed'),
      duplicates: tally.total('duplicate'),
      transfersAccepted: accepted,
      transfersApplied: tally.count('transfer', 'ok'),
      transfersRejected: tally.count('transfer', 'rejected'),
      moneyBefore: o.accounts * o.initialBalance,
      moneyAfter,
      negativeBalances,
      maxDepth,
      capacity: o.capacity,
      followUpsForced: tally.forced,
      shardsGained: tally.gained,
      commandsPerSec: Math.round((accepted + tally.count('credit', 'ok')) / seconds),
    };
  } finally {
    sampling = false;
    await sampler.catch(() => undefined);
    await producer.close();
    await Promise.all(owners.map((owner) => owner.close()));
    await Promise.all([producerTransport, ...ownerTransports].map((t) => t.close()));
  }
}
