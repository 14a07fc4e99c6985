import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { accounts, type Account } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { openRedis } from '../../src/common/redis.ts';
import type { ShardCommit } from '../../src/state/state-store.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { BullmqTransport } from '../../src/transports/bullmq/index.ts';
import { shardKeys } from '../../src/transports/bullmq/keys.ts';
import { StoreDecorator } from '../support/decorators.ts';
import { until } from '../support/processes.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const redis = await startRedis();

/** A Redis store whose commits wait while `held` is set: a batch stays in the owner's hands. */
class HeldCommits extends StoreDecorator<RedisStateStore> {
  commits = 0;
  #release: (() => void) | undefined;
  #held: Promise<void> | undefined;

  hold(): void {
    this.#held = new Promise((resolve) => {
      this.#release = resolve;
    });
  }

  release(): void {
    this.#release?.();
    this.#held = undefined;
  }

  override async commit(shard: number, commit: ShardCommit): Promise<void> {
    this.commits++;
    await this.#held;
    return super.commit(shard, commit);
  }
}

describe.skipIf(redis === undefined)('an owner takes the next jobs while it commits a batch', () => {
  const service = redis as RedisService;
  const closers: (() => Promise<unknown>)[] = [];

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await service.close();
  });

  /** One shard of domain `domain` holding three jobs, `open` then two deposits to `p`; an owner taking one job per take over a store whose commits are held. */
  async function setUp(domain: string) {
    const client: Redis = await openRedis(service.url, 'test');
    closers.push(() => client.quit());
    const keys = shardKeys('shardline', domain, 0);
    const producerTransport = new BullmqTransport({ url: service.url, domain, shards: 1 });
    const producer = new Producer({ domain: accounts, transport: producerTransport });
    closers.push(() => producerTransport.close(), () => producer.close());
    await producer.send('open', 'p', { initialBalance: 10 });
    await producer.send('deposit', 'p', { amount: 5 });
    await producer.send('deposit', 'p', { amount: 7 });

    const store = new HeldCommits('held', new RedisStateStore({ client, domain }));
    store.hold();
    const transport = new BullmqTransport({ url: service.url, domain, shards: 1, fetchJobs: 1, leaseTtlMs: 1_000 });
    const owner = new Owner({ domain: accounts, transport, store });
    closers.push(() => transport.close(), () => owner.close());
    await owner.start();
    const lists = async () => ({ waiting: await client.llen(keys.wait), taken: await client.llen(keys.active) });
    const balance = async () => ((await store.load(0, ['p'])).get('p') as Account | undefined)?.balance;
    return { client, store, owner, transport, lists, balance };
  }

  it('takes the next job while the first is committed, and applies it after the commit', async () => {
    const { store, lists, balance, transport } = await setUp('ahead');
    await until('the first batch is being committed', async () => store.commits === 1, 10_000);
    // The commit is held: the job after it was taken meanwhile (moved to the active list), the third still waits.
    await until('the second job taken during the commit', async () => (await lists()).taken === 2, 10_000);
    expect({ ...(await lists()), commits: store.commits, balance: await balance() }).toEqual({ waiting: 1, taken: 2, commits: 1, balance: undefined });

    store.release();
    await until('every command applied', async () => (await balance()) === 22, 10_000);
    await until('every job acknowledged', async () => (await lists()).taken === 0, 10_000);
    expect({ ...(await lists()), depth: await transport.depth(0) }).toEqual({ waiting: 0, taken: 0, depth: 0 });
  });

  it('leaves a job taken ahead to the next owner when the grant ends, which applies it first', async () => {
    const { client, store, owner, lists, balance } = await setUp('handed');
    await until('the second job taken during the first commit', async () => store.commits === 1 && (await lists()).taken === 2, 10_000);
    const closing = owner.close();
    store.release();
    await closing;
    // The first batch was applied and acknowledged; the job taken ahead stays taken, not applied.
    expect({ ...(await lists()), balance: await balance() }).toEqual({ waiting: 1, taken: 1, balance: 10 });

    const nextTransport = new BullmqTransport({ url: service.url, domain: 'handed', shards: 1 });
    const next = new Owner({ domain: accounts, transport: nextTransport, store: new RedisStateStore({ client, domain: 'handed' }) });
    closers.push(() => nextTransport.close(), () => next.close());
    await next.start();
    await until('the next owner applied both deposits', async () => (await balance()) === 22, 10_000);
    await until('every job acknowledged', async () => (await lists()).taken === 0 && (await lists()).waiting === 0, 10_000);
    expect(await next.store.deadLetters.list()).toEqual([]);
  });
});
