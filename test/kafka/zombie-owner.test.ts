import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accounts } from '../../src/domains/accounts.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { openRedis } from '../../src/common/redis.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { KafkaTransport } from '../../src/transports/kafka/index.ts';
import { FAST_KAFKA, KAFKA_WAITS, startKafka, uniquePrefix } from '../support/kafka.ts';
import { fixtureProcesses, type Child } from '../support/processes.ts';
import { balancesReached, expectedBalances, ownedBy, storedBalances } from '../support/fixtures/owner-reports.ts';
import { startRedis } from '../support/redis.ts';

const { startChild, until } = fixtureProcesses(new URL('./fixtures/', import.meta.url), KAFKA_WAITS);

const kafka = await startKafka();
const redis = await startRedis();
const SHARDS = 4;
const ACCOUNTS = 20;
const INITIAL = 1_000_000;

/** How many messages of `type` a child sent from message index `from` on (to `to`, exclusive). */
function countOf(child: Child, type: string, from: number, to = child.messages.length): number {
  return child.messages.slice(from, to).filter((m) => m.type === type).length;
}

describe.skipIf(kafka === undefined || redis === undefined)('an owner paused past its session timeout (a zombie), then resumed, with producers running', () => {
  const children: Child[] = [];
  const topicPrefix = uniquePrefix('zombie');
  let env: Record<string, string>;
  let client: Redis;
  let store: RedisStateStore;

  beforeAll(async () => {
    await kafka!.createTopic(`${topicPrefix}accounts`, SHARDS);
    env = { KAFKA_BROKERS: kafka!.brokers.join(','), REDIS_URL: redis!.url, TOPIC_PREFIX: topicPrefix, SHARDS: String(SHARDS) };
    client = await openRedis(redis!.url, 'kafka-test');
    store = new RedisStateStore({ client, domain: accounts.name });
  });

  afterAll(async () => {
    for (const child of children) child.process.kill('SIGCONT');
    await Promise.all(children.map((child) => child.kill()));
    await client?.quit();
    await redis?.close();
    await kafka?.close();
  });

  it('claims nothing from its stale assignment: the rightful owner is never fenced by it, and every accepted transfer is applied once', async () => {
    const [a, b] = [startChild('owner', env, 'owner-a'), startChild('owner', env, 'owner-b')];
    children.push(a, b);
    await Promise.all([a, b].map((owner) => owner.next((m) => m.type === 'ready')));
    const settled = () => ownedBy(a).size > 0 && ownedBy(b).size > 0 && ownedBy(a).size + ownedBy(b).size === SHARDS;
    await until('two owners splitting the 4 partitions', settled);

    const transport = new KafkaTransport({ brokers: kafka!.brokers, topicPrefix, shards: SHARDS, ...FAST_KAFKA }, { domain: accounts.name });
    const opener = new Producer({ domain: accounts, transport });
    const opened = await opener.sendMany(Array.from({ length: ACCOUNTS }, (_, i) => ({ type: 'open' as const, key: `a${i}`, payload: { initialBalance: INITIAL } })));
    expect(opened.every((outcome) => outcome.ok)).toBe(true);
    await opener.close();
    await transport.close();

    const producers = [0, 1].map((i) => startChild('producer', { ...env, ACCOUNTS: String(ACCOUNTS), COUNT: '40000', PACE_MS: '40' }, `producer-${i}`));
    children.push(...producers);
    await Promise.all(producers.map((p) => p.next((m) => m.type === 'progress' && (m.sent as number) >= 200)));

    // Each owner in turn is the zombie; the other is the rightful owner of everything it held.
    const rounds: { zombie: string; held: number[]; zombieFenced: number; rightfulFenced: number; zombieGains: number }[] = [];
    for (const [zombie, rightful] of [[a, b], [b, a]] as const) {
      await until('the partitions split between both owners', settled);
      const held = [...ownedBy(zombie)];
      const [zombieFrom, rightfulFrom] = [zombie.messages.length, rightful.messages.length];
      zombie.process.kill('SIGSTOP');
      await until(`${rightful.name} owning every partition`, () => ownedBy(rightful).size === SHARDS);
      // The rightful owner commits on the zombie's partitions before the zombie wakes up.
      await until(`${rightful.name} applying on ${held.join(',')}`, () =>
        held.every((shard) => rightful.messages.slice(rightfulFrom).some((m) => m.type === 'committed' && m.shard === shard)),
      );
      zombie.process.kill('SIGCONT');
      await until(`${zombie.name} back in the group with partitions of its own`, settled);
      const sentAtSettle = producers.map((p) => countOf(p, 'progress', 0));
      await until('transfers applied after the zombie rejoined', () => producers.every((p, i) => countOf(p, 'progress', 0) >= sentAtSettle[i]! + 5));
      rounds.push({
        zombie: zombie.name,
        held,
        zombieFenced: countOf(zombie, 'stale', zombieFrom),
        rightfulFenced: countOf(rightful, 'stale', rightfulFrom),
        zombieGains: zombie.messages.slice(zombieFrom).filter((m) => m.type === 'ownership' && m.event === 'gained').length,
      });
    }
    console.log(JSON.stringify({ rounds }));

    for (const p of producers) p.process.send({ type: 'stop' });
    const done = await Promise.all(producers.map((p) => p.next((m) => m.type === 'done')));
    const { accepted, balances: expected } = expectedBalances(done, ACCOUNTS, INITIAL);
    expect(accepted).toBeGreaterThan(400);

    await until('every accepted transfer applied', () => balancesReached(store, expected)).catch(() => undefined);

    expect(rounds.map((round) => round.rightfulFenced)).toEqual([0, 0]);
    const found = await storedBalances(store);
    expect([...found.values()].reduce((sum, balance) => sum + balance, 0)).toBe(ACCOUNTS * INITIAL);
    expect(Object.fromEntries(found)).toEqual(Object.fromEntries(expected));
    expect([a, b].every((owner) => owner.process.exitCode === null)).toBe(true);
  }, 240_000);
});
