import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCommand } from '../../src/core/command.ts';
import { shardOf } from '../../src/core/router.ts';
import { accounts, type Account } from '../../src/domains/accounts.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { openRedis } from '../../src/common/redis.ts';
import { RedisDeadLetterQueue } from '../../src/state/redis-dead-letters.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { BullmqTransport } from '../../src/transports/bullmq/index.ts';
import { shardKeys } from '../../src/transports/bullmq/keys.ts';
import { fixtureProcesses, type Child } from '../support/processes.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const { startChild, until } = fixtureProcesses(new URL('./fixtures/', import.meta.url));

const redis = await startRedis();
const SHARDS = 2;
/** The shard every foreign job goes to, and an account on it. */
const SHARD = 1;
const ACCOUNT = Array.from({ length: 100 }, (_, i) => `f${i}`).find((key) => shardOf(key, SHARDS) === SHARD)!;
const keys = shardKeys('shardline', accounts.name, SHARD);

/** A deposit another program encoded by hand: a valid shardline command, without origin. */
const deposit = (id: string) => encodeCommand({ id, type: 'deposit', key: ACCOUNT, payload: { amount: 1 }, sentAt: Date.now() });

describe.skipIf(redis === undefined)('jobs another program added to a shard queue', () => {
  const service = redis as RedisService;
  const children: Child[] = [];
  let client: Redis;
  let queue: Queue;
  let transport: BullmqTransport;
  let producer: Producer<typeof accounts>;

  beforeAll(async () => {
    client = await openRedis(service.url, 'test');
    queue = new Queue(keys.queue, { connection: client, prefix: 'shardline' });
    transport = new BullmqTransport({ url: service.url, domain: accounts.name, shards: SHARDS });
    producer = new Producer({ domain: accounts, transport });
  });

  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill()));
    await producer?.close();
    await transport?.close();
    await queue?.close();
    await client?.quit();
    await service.close();
  });

  /** A job written straight into Redis, the way BullMQ lays one out, with only `fields`. */
  async function rawJob(id: string, fields: Record<string, string>): Promise<void> {
    await client.hset(`${keys.jobPrefix}${id}`, fields);
    await client.lpush(keys.wait, id);
    await client.zadd(keys.marker, 0, '0');
  }

  const balance = async () => ((await new RedisStateStore({ client, domain: accounts.name }).load(SHARD, [ACCOUNT])).get(ACCOUNT) as Account | undefined)?.balance;
  const letters = () => new RedisDeadLetterQueue({ client, domain: accounts.name }).list(1_000);

  it('dead-letters each with its reason, applies the shardline commands among them, and the shard moves on', async () => {
    // Queued before any consumer runs, so valid jobs and foreign ones share the first fetches.
    await producer.send('open', ACCOUNT, { initialBalance: 0 });
    await producer.send('deposit', ACCOUNT, { amount: 1 });
    const foreign: [name: string, data: unknown, letters: number, deposits: number][] = [
      ['x:1', { m: 'not an array' }, 1, 0],
      ['x:1', { m: [null] }, 1, 0],
      ['x:1', { m: [] }, 1, 0],
      ['x:3', { m: [['k', 5], ['a', 'b', 'c'], 'x'] }, 3, 0],
      ['x:1', { m: [['k', 'not a command']] }, 1, 0],
      ['x:1', { m: [[ACCOUNT, deposit('foreign-1')], [ACCOUNT, deposit('foreign-2')], [ACCOUNT, deposit('foreign-3')]] }, 0, 3],
      ['x:9', { m: [[ACCOUNT, deposit('foreign-4')]] }, 0, 1],
      ['x:1', { m: [[ACCOUNT, 'x'.repeat(17 * 1024 * 1024)]] }, 1, 0],
    ];
    let expectedLetters = 0;
    let expectedBalance = 1;
    let positions = 2;
    for (const [name, data, letterCount, deposits] of foreign) {
      await queue.add(name, data);
      await producer.send('deposit', ACCOUNT, { amount: 1 });
      expectedLetters += letterCount;
      expectedBalance += deposits + 1;
      positions += Math.max(1, Array.isArray((data as { m: unknown }).m) ? (data as { m: unknown[] }).m.length : 1) + 1;
    }
    await queue.add('x:1', { m: [[ACCOUNT, deposit('foreign-5')]] }, { jobId: 'foreign-id' });
    await rawJob('nameless', { data: JSON.stringify({ m: [[ACCOUNT, deposit('foreign-6')]] }) });
    await rawJob('not-json', { name: 'x:1', data: 'this is not JSON' });
    await rawJob('no-data', { name: 'x:1' });
    await producer.send('deposit', ACCOUNT, { amount: 1 });
    expectedLetters += 2;
    expectedBalance += 3;
    positions += 5;

    const consumer = startChild('consumer', { REDIS_URL: service.url, SHARDS: String(SHARDS) });
    children.push(consumer);
    await consumer.next((m) => m.type === 'ready');
    await until('every deposit applied and every foreign job dead-lettered', async () =>
      (await balance()) === expectedBalance && (await letters()).length === expectedLetters,
    );

    const found = await letters();
    expect(found.every((letter) => letter.shard === SHARD)).toBe(true);
    expect(found.filter((letter) => letter.error.startsWith('foreign: ')).length).toBe(expectedLetters - 1);
    expect(found.filter((letter) => letter.error.startsWith('decode: ')).map((letter) => letter.value)).toEqual(['not a command']);
    expect(found.every((letter) => letter.value.length <= 8 * 1024)).toBe(true);
    const errors = found.map((letter) => letter.error).join('\n');
    expect(errors).toMatch(/not JSON/);
    expect(errors).toMatch(/no data/);
    expect(errors).toMatch(/bytes/);

    // Dense positions: one per command or unreadable entry, from 0, whatever the job names said.
    expect((await new RedisStateStore({ client, domain: accounts.name }).status(SHARD)).position).toBe(positions - 1);
    expect(await client.llen(keys.active)).toBe(0);
    expect(await transport.depth(SHARD)).toBe(0);
    expect(consumer.process.exitCode).toBeNull();
  });

  it('keeps a running consumer alive when a foreign job arrives, and applies what follows it', async () => {
    const consumer = children[0]!;
    const before = (await balance())!;
    const lettersBefore = (await letters()).length;
    await rawJob('late-not-json', { name: 'late', data: '{"m": [' });
    await queue.add('late', { m: [[ACCOUNT]] });
    await producer.send('deposit', ACCOUNT, { amount: 1 });
    await until('the deposit after the foreign jobs applied', async () => (await balance()) === before + 1);
    await until('both foreign jobs dead-lettered', async () => (await letters()).length === lettersBefore + 2);
    expect(consumer.process.exitCode).toBeNull();
    expect(await transport.depth(SHARD)).toBe(0);
  });

  it('counts a job by the n its data starts with only as positions: an n its m does not bear out is one dead letter', async () => {
    const consumer = children[0]!;
    const before = (await balance())!;
    const lettersBefore = (await letters()).length;
    const positionBefore = (await new RedisStateStore({ client, domain: accounts.name }).status(SHARD)).position;
    const pair = (id: string) => [ACCOUNT, deposit(id)];
    // Written as producers write a job (`n` first), but by hand, so that n can lie.
    const raw = (n: string, m: unknown[]) => `{"n":${n},"m":${JSON.stringify(m)}}`;
    const jobs: [id: string, data: string, positions: number, deposits: number, letters: number][] = [
      ['more', raw('1000', [pair('n-more')]), 1000, 0, 1],
      ['fewer', raw('1', [pair('n-fewer-1'), pair('n-fewer-2')]), 1, 0, 1],
      ['cut', '{"n":3,"m":[["a"', 3, 0, 1],
      // Not an n `take` reads (out of range, not a plain integer, not first): counted by m.
      ['too-many', raw('5000', [pair('n-5000')]), 1, 1, 0],
      ['zero', raw('0', [pair('n-zero')]), 1, 1, 0],
      ['string', `{"n":"2","m":${JSON.stringify([pair('n-string-1'), pair('n-string-2')])}}`, 2, 2, 0],
      ['last', `{"m":${JSON.stringify([pair('n-last')])},"n":9}`, 1, 1, 0],
      ['agrees', raw('2', [pair('n-agrees-1'), pair('n-agrees-2')]), 2, 2, 0],
    ];
    for (const [id, data] of jobs) await rawJob(`n-${id}`, { name: 'x', data });
    await producer.send('deposit', ACCOUNT, { amount: 1 });
    const sum = (pick: (job: (typeof jobs)[number]) => number) => jobs.reduce((total, job) => total + pick(job), 0);
    await until('the deposits applied and the lying jobs dead-lettered', async () =>
      (await balance()) === before + sum((job) => job[3]) + 1 && (await letters()).length === lettersBefore + sum((job) => job[4]),
    );
    const found = (await letters()).slice(-sum((job) => job[4])).map((letter) => letter.error);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^foreign: job n-more: m has 1 entries, counted 1000 when the job was first taken/),
        expect.stringMatching(/^foreign: job n-fewer: m has 2 entries, counted 1 when the job was first taken/),
        expect.stringMatching(/^foreign: job n-cut: data is not JSON/),
      ]),
    );
    // Each job took the positions it was counted with; the producer's deposit one more.
    expect((await new RedisStateStore({ client, domain: accounts.name }).status(SHARD)).position).toBe(positionBefore + sum((job) => job[2]) + 1);
    expect(await transport.depth(SHARD)).toBe(0);
    expect(consumer.process.exitCode).toBeNull();
  });

  it('checks a command a job carries as an object as it checks an encoded one, and applies the valid ones in order', async () => {
    const before = (await balance())!;
    const lettersBefore = (await letters()).length;
    const command = (id: string) => JSON.parse(deposit(id)) as Record<string, unknown>;
    const elsewhere = Array.from({ length: 100 }, (_, i) => `g${i}`).find((key) => shardOf(key, SHARDS) !== SHARD)!;
    await queue.add('mixed', {
      m: [
        command('object-1'),
        [ACCOUNT, deposit('pair-1')],
        { ...command('no-sent-at'), sentAt: undefined },
        { ...command('elsewhere'), key: elsewhere },
        { ...command('too-large'), payload: { amount: 1, pad: 'x'.repeat(1024 * 1024) } },
        { ...command('not-a-key'), key: 5 },
        command('object-2'),
      ],
    });
    await producer.send('deposit', ACCOUNT, { amount: 1 });
    await until('the deposits among the objects applied', async () => (await balance()) === before + 4);
    await until('the four bad objects dead-lettered', async () => (await letters()).length === lettersBefore + 4);
    const errors = (await letters()).map((letter) => letter.error);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^decode: expected sentAt to be a number/),
        expect.stringMatching(/^foreign: key "g\d+" belongs to shard 0 of 2, delivered on shard 1/),
        expect.stringMatching(/^too large: \d+ bytes, over maxCommandBytes/),
        expect.stringMatching(/^decode: expected key to be a non-empty string, got 5/),
      ]),
    );
    expect(await transport.depth(SHARD)).toBe(0);
  });

  it('checks a command a job carries as a short entry as it checks any other, and applies the valid ones in order', async () => {
    const before = (await balance())!;
    const lettersBefore = (await letters()).length;
    const elsewhere = Array.from({ length: 100 }, (_, i) => `g${i}`).find((key) => shardOf(key, SHARDS) !== SHARD)!;
    const deposit = { amount: 1 };
    // Written as a producer writes short entries, but by hand: every field can be wrong.
    await rawJob('short', {
      name: 'x',
      data: JSON.stringify({
        n: 8,
        m: [
          [1, 0, 'deposit', ACCOUNT, deposit],
          [2, 0, 'deposit', ACCOUNT],
          [3, 'late', 'deposit', ACCOUNT, deposit],
          [-4, 0, 'deposit', ACCOUNT, deposit],
          [5, 0, 5, ACCOUNT, deposit],
          [6, 0, 'deposit', ACCOUNT, { amount: -1 }],
          [7, 0, 'deposit', elsewhere, deposit],
          [8, 2, 'deposit', ACCOUNT, deposit],
        ],
        o: 'hand-written',
        t: Date.now(),
      }),
    });
    await rawJob('short-no-origin', { name: 'x', data: JSON.stringify({ n: 1, m: [[9, 0, 'deposit', ACCOUNT, deposit]], t: Date.now() }) });
    await producer.send('deposit', ACCOUNT, { amount: 1 });
    await until('the two valid short entries and the deposit after them applied', async () => (await balance()) === before + 3);
    await until('the seven bad short entries dead-lettered', async () => (await letters()).length === lettersBefore + 7);
    const errors = (await letters()).slice(-7).map((letter) => letter.error);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^foreign: job short: entry 1 of m is a short entry \[seq, dt, type, key, payload, replyTo\?\] of 4 elements/),
        expect.stringMatching(/^foreign: job short: entry 2 of m is a short entry whose dt is a string/),
        expect.stringMatching(/^decode: expected origin to be a string and seq a safe integer >= 0, got "hand-written" and -4/),
        expect.stringMatching(/^decode: expected type to be a non-empty string, got 5/),
        expect.stringMatching(/^decode: payload does not match the schema of deposit/),
        expect.stringMatching(/^foreign: key "g\d+" belongs to shard 0 of 2, delivered on shard 1/),
        expect.stringMatching(/^foreign: job short-no-origin: entry 0 of m is a short entry in a job without its origin o/),
      ]),
    );
    expect(await transport.depth(SHARD)).toBe(0);
  });
});
