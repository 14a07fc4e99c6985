import cliProgress from 'cli-progress';
import { z } from 'zod';
import { accounts, type Account } from '../domains/accounts.ts';
import { Owner } from '../runtime/owner.ts';
import { parseOptions } from '../common/options.ts';
import { combineObservers, type RuntimeObserver } from '../runtime/observer.ts';
import { Producer } from '../runtime/producer.ts';
import { MemoryTransport } from '../transports/memory/memory-transport.ts';
import { LatencyRecorder } from '../bench/latency.ts';
import { mulberry32 } from '../bench/workload.ts';

/** What `shardline demo` does; every field has a default. */
export const demoOptionsSchema = z.object({
  /** Accounts transfers move money between. */
  accounts: z.number().int().min(2).default(300),
  /** Accounts that get `hotShare` of all transfers (as source or target). */
  hotAccounts: z.number().int().min(1).default(10),
  hotShare: z.number().min(0).max(1).default(0.5),
  /** Transfers to send; ignored when `durationMs` is set. */
  transfers: z.number().int().positive().default(200_000),
  /** Keep sending for this long instead of a fixed count (to watch metrics). */
  durationMs: z.number().int().positive().optional(),
  /** Concurrent producer tasks, each awaiting its own `send`. */
  producers: z.number().int().positive().default(512),
  shards: z.number().int().positive().default(8),
  /** Queue capacity per shard, in commands. */
  capacity: z.number().int().positive().default(256),
  /** Opening balance of every account, in cents. */
  initialBalance: z.number().int().nonnegative().default(1_000),
  /** Transfers move 1 to `maxAmount` cents. */
  maxAmount: z.number().int().positive().default(200),
  seed: z.number().int().default(7),
});

export type DemoOptions = z.input<typeof demoOptionsSchema>;

/** What the demo found; `--json` prints it as one object. */
export interface DemoSummary {
  /** Transfers accepted by the producer (enqueued). */
  commands: number;
  /** Transfers applied: source debited and a credit emitted. */
  applied: number;
  /** Transfers refused by their handler (insufficient funds). */
  rejected: number;
  credits: number;
  refunds: number;
  duplicates: number;
  deadLetters: number;
  moneyBefore: number;
  moneyAfter: number;
  negativeBalances: number;
  /** Highest number of commands any shard's queue held at once. */
  maxDepth: number;
  capacity: number;
  shards: number;
  accounts: number;
  commandsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  elapsedMs: number;
}

/** Lets a caller watch a running demo: add metrics, serve them, see the parts. */
export interface DemoHooks {
  readonly observer?: RuntimeObserver;
  onReady?(parts: { transport: MemoryTransport; owner: Owner<typeof accounts>; producer: Producer<typeof accounts> }): void | Promise<void>;
  /** Show a progress bar (stdout is a terminal). */
  readonly progress?: boolean;
}

/**
 * The accounts demo on the memory transport: opens accounts, then many concurrent
 * producer tasks send random transfers (a few hot accounts take a large share) while the
 * owners apply them; when everything has drained it checks that money was conserved.
 */
export async function runDemo(input: DemoOptions = {}, hooks: DemoHooks = {}): Promise<DemoSummary> {
  const options = parseOptions(demoOptionsSchema, input, 'demo');
  const transport = new MemoryTransport({ shards: options.shards, capacity: options.capacity });
  const counts = { transfer: 0, rejected: 0, credit: 0, refund: 0, duplicate: 0, failed: 0 };
  const latency = new LatencyRecorder();
  const own: RuntimeObserver = {
    applied(type, outcome, count) {
      if (outcome === 'duplicate') counts.duplicate += count;
      else if (outcome === 'failed') counts.failed += count;
      else if (type === 'transfer') counts[outcome === 'ok' ? 'transfer' : 'rejected'] += count;
      else if (type === 'credit' && outcome === 'ok') counts.credit += count;
      else if (type === 'refund' && outcome === 'ok') counts.refund += count;
    },
    endToEnd: (seconds) => latency.record(seconds * 1000),
  };
  const observer = hooks.observer === undefined ? own : combineObservers(own, hooks.observer);
  const owner = new Owner({ domain: accounts, transport, observer });
  const producer = new Producer({ domain: accounts, transport, observer });
  await owner.start();
  await producer.connect();
  await hooks.onReady?.({ transport, owner, producer });

  const keys = Array.from({ length: options.accounts }, (_, i) => `acct-${String(i).padStart(4, '0')}`);
  await Promise.all(keys.map((key) => producer.request('open', key, { initialBalance: options.initialBalance })));
  const moneyBefore = keys.length * options.initialBalance;

  const random = mulberry32(options.seed);
  const pick = () =>
    random() < options.hotShare
      ? keys[Math.floor(random() * Math.min(options.hotAccounts, keys.length))]!
      : keys[Math.floor(random() * keys.length)]!;
  const deadline = options.durationMs === undefined ? Infinity : Date.now() + options.durationMs;
  const total = options.durationMs === undefined ? options.transfers : Infinity;
  const bar = hooks.progress
    ? new cliProgress.SingleBar({ format: 'transfers [{bar}] {percentage}% {value}/{total} {rate}/s', clearOnComplete: true }, cliProgress.Presets.shades_classic)
    : undefined;
  bar?.start(Number.isFinite(total) ? total : 0, 0, { rate: 0 });

  const started = performance.now();
  let sent = 0;
  let issued = 0;
  await Promise.all(
    Array.from({ length: options.producers }, async () => {
      while (issued < total && Date.now() < deadline) {
        issued++;
        const from = pick();
        let to = pick();
        if (to === from) to = keys[(keys.indexOf(from) + 1) % keys.length]!;
        await producer.send('transfer', from, { to, amount: 1 + Math.floor(random() * options.maxAmount) });
        sent++;
        if ((sent & 1023) === 0) bar?.update(sent, { rate: Math.round(sent / ((performance.now() - started) / 1000)) });
      }
    }),
  );
  await drained(transport, options.shards, () => counts.transfer + counts.rejected >= sent && counts.credit + counts.refund >= counts.transfer);
  const elapsedMs = performance.now() - started;
  bar?.stop();

  let moneyAfter = 0;
  let negativeBalances = 0;
  for await (const [, state] of owner.store.entries()) {
    const account = state as Account;
    moneyAfter += account.balance;
    if (account.balance < 0) negativeBalances++;
  }
  const summary: DemoSummary = {
    commands: sent,
    applied: counts.transfer,
    rejected: counts.rejected,
    credits: counts.credit,
    refunds: counts.refund,
    duplicates: counts.duplicate,
    deadLetters: await owner.deadLetters.count(),
    moneyBefore,
    moneyAfter,
    negativeBalances,
    maxDepth: Math.max(...Array.from({ length: options.shards }, (_, s) => transport.highWater(s))),
    capacity: options.capacity,
    shards: options.shards,
    accounts: keys.length,
    commandsPerSec: Math.round(sent / (elapsedMs / 1000)),
    p50Ms: latency.percentile(50),
    p99Ms: latency.percentile(99),
    elapsedMs: Math.round(elapsedMs),
  };
  await producer.close();
  await owner.close();
  await transport.close();
  return summary;
}

/** Waits until every queue is empty and `settled()` holds (all follow-ups applied). */
async function drained(transport: MemoryTransport, shards: number, settled: () => boolean): Promise<void> {
  for (;;) {
    const depths = await Promise.all(Array.from({ length: shards }, (_, s) => transport.depth(s)));
    if (settled() && depths.every((d) => d === 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The summary as a person reads it. */
export function formatDemoSummary(s: DemoSummary): string[] {
  const n = (x: number) => x.toLocaleString('en-US');
  const conserved = s.moneyBefore === s.moneyAfter;
  return [
    `shardline demo: ${n(s.accounts)} accounts, ${s.shards} shards (memory transport), capacity ${n(s.capacity)} commands per shard`,
    `  transfers sent      ${n(s.commands)} (${n(s.commandsPerSec)} commands/s, ${(s.elapsedMs / 1000).toFixed(2)} s)`,
    `  applied             ${n(s.applied)} debited, ${n(s.credits)} credited, ${n(s.refunds)} refunded`,
    `  rejected            ${n(s.rejected)} (insufficient funds)`,
    `  duplicates skipped  ${n(s.duplicates)}, dead letters ${n(s.deadLetters)}`,
    `  money               ${n(s.moneyBefore)} before, ${n(s.moneyAfter)} after: ${conserved ? 'conserved' : 'NOT CONSERVED'}`,
    `  accounts below zero ${n(s.negativeBalances)}`,
    `  queue depth         high-water ${n(s.maxDepth)} of capacity ${n(s.capacity)}`,
    `  end-to-end latency  p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms`,
  ];
}
