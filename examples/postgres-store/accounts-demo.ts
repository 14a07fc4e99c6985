import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { accounts, Owner, Producer, silentLogger, TimeoutError, type ApplyOutcome, type RuntimeObserver } from '../../src/index.ts';
import { BullmqTransport } from '../../src/transports/bullmq/index.ts';
import { PostgresStateStore } from './postgres-store.ts';
import { quoteIdentifier } from './schema.ts';

/** What to run; every field but the two URLs has a default sized for a quick run on a laptop. */
export interface AccountsDemoOptions {
  readonly redisUrl: string;
  readonly databaseUrl: string;
  /** Schema of the store's tables; a fresh one per run by default, so runs never meet. */
  readonly schema?: string;
  /** BullMQ key prefix; a fresh one per run by default. */
  readonly prefix?: string;
  readonly accounts?: number;
  readonly transfers?: number;
  /** Concurrent producer tasks. */
  readonly tasks?: number;
  readonly initialBalance?: number;
  readonly shards?: number;
  readonly capacity?: number;
  /** Stop one of the two owners half-way, so its shards move to the other under load. */
  readonly handOver?: boolean;
  /** Longest the whole run may take. */
  readonly timeoutMs?: number;
}

/** The outcome: what the owners counted, and what SQL reads from the entities table afterwards. */
export interface AccountsDemoSummary {
  readonly schema: string;
  readonly transfersAccepted: number;
  readonly transfersApplied: number;
  readonly transfersRejected: number;
  readonly failed: number;
  readonly shardsGained: number;
  readonly moneyBefore: number;
  /** From SQL: `sum((state->>'balance')::bigint)` over the domain's entities. */
  readonly moneyAfter: number;
  /** From SQL: accounts whose balance is below zero. */
  readonly negativeBalances: number;
  /** From SQL: entities of the domain. */
  readonly accounts: number;
  readonly seconds: number;
}

/** Counts outcomes per `type:outcome` and shards gained, across every owner of the run. */
class Counts implements RuntimeObserver {
  readonly #counts = new Map<string, number>();

  applied(type: string, outcome: ApplyOutcome, count: number): void {
    this.add(`${type}:${outcome}`, count);
  }

  ownership(_shard: number, _epoch: number, event: 'gained' | 'lost'): void {
    if (event === 'gained') this.add('gained', 1);
  }

  add(key: string, count: number): void {
    this.#counts.set(key, this.get(key) + count);
  }

  get(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }
}

/** The SQL a user would run to audit the accounts: total money, overdrawn accounts, how many there are. */
export function auditSql(schema: string): string {
  return `select count(*)::int as accounts,
                 coalesce(sum((state->>'balance')::bigint), 0)::bigint as money,
                 count(*) filter (where (state->>'balance')::bigint < 0)::int as negative
          from ${quoteIdentifier(schema)}.entities where domain = 'accounts'`;
}

/**
 * The accounts demo with the BullMQ transport and the PostgreSQL store: two owners, each
 * with its own transport and its own store (a pool of its own), as two processes would
 * have; a producer opens the accounts and sends random transfers from concurrent tasks;
 * half-way one owner stops and the other takes its shards over. Once every transfer and
 * credit is applied, the balances are read back with SQL.
 */
export async function runAccountsDemo(options: AccountsDemoOptions): Promise<AccountsDemoSummary> {
  const tag = randomBytes(4).toString('hex');
  const o = { schema: `demo_${tag}`, prefix: `demo-${tag}`, accounts: 50, transfers: 1_000, tasks: 8, initialBalance: 1_000, shards: 4, capacity: 64, handOver: true, timeoutMs: 60_000, ...options };
  const deadline = Date.now() + o.timeoutMs;
  const transport = () => new BullmqTransport({ url: o.redisUrl, prefix: o.prefix, domain: accounts.name, shards: o.shards, capacity: o.capacity, leaseTtlMs: 1_000, logger: silentLogger });
  const counts = new Counts();
  const transports: BullmqTransport[] = [];
  const stores: PostgresStateStore[] = [];
  const owners: Owner<typeof accounts>[] = [];
  const startOwner = async () => {
    const ownerTransport = transport();
    const store = await PostgresStateStore.connect(o.databaseUrl, { domain: accounts.name, schema: o.schema });
    transports.push(ownerTransport);
    stores.push(store);
    const owner = new Owner({ domain: accounts, transport: ownerTransport, store, observer: counts, logger: silentLogger });
    owners.push(owner);
    await owner.start();
    return owner;
  };
  const producerTransport = transport();
  transports.push(producerTransport);
  const producer = new Producer({ domain: accounts, transport: producerTransport, enqueueTimeoutMs: 30_000, requestTimeoutMs: 30_000 });

  try {
    const first = await startOwner();
    await startOwner();
    const keys = Array.from({ length: o.accounts }, (_, i) => `acct-${i}`);
    await Promise.all(keys.map((key) => producer.request('open', key, { initialBalance: o.initialBalance })));
    const started = performance.now();
    let sent = 0;
    let accepted = 0;
    let stopping: Promise<void> | undefined;
    await Promise.all(
      Array.from({ length: o.tasks }, async () => {
        while (sent < o.transfers && Date.now() < deadline) {
          sent++;
          const from = keys[Math.floor(Math.random() * keys.length)]!;
          const to = keys[(keys.indexOf(from) + 1 + Math.floor(Math.random() * (keys.length - 1))) % keys.length]!;
          await producer.send('transfer', from, { to, amount: 1 + Math.floor(Math.random() * 300) });
          accepted++;
          if (o.handOver && stopping === undefined && sent >= o.transfers / 2) stopping = first.close();
        }
      }),
    );
    await producer.flush();
    await stopping;

    const settled = () => counts.get('transfer:ok') + counts.get('transfer:rejected') === accepted && counts.get('credit:ok') === counts.get('transfer:ok');
    while (!settled()) {
      if (Date.now() > deadline) throw new TimeoutError('accounts demo', o.timeoutMs, `not settled: ${JSON.stringify(counts)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const seconds = (performance.now() - started) / 1000;

    const client = new pg.Client(o.databaseUrl);
    await client.connect();
    try {
      const { rows } = await client.query<{ accounts: number; money: string; negative: number }>(auditSql(o.schema));
      const audit = rows[0]!;
      return {
        schema: o.schema,
        transfersAccepted: accepted,
        transfersApplied: counts.get('transfer:ok'),
        transfersRejected: counts.get('transfer:rejected'),
        failed: counts.get('transfer:failed') + counts.get('credit:failed') + counts.get('open:failed'),
        shardsGained: counts.get('gained'),
        moneyBefore: o.accounts * o.initialBalance,
        moneyAfter: Number(audit.money),
        negativeBalances: audit.negative,
        accounts: audit.accounts,
        seconds,
      };
    } finally {
      await client.end();
    }
  } finally {
    await producer.close();
    await Promise.all(owners.map((owner) => owner.close()));
    await Promise.all(transports.map((t) => t.close()));
    await Promise.all(stores.map((store) => store.close()));
  }
}
