import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/common/logger.ts';
import { openRedis } from '../../src/common/redis.ts';
import { accounts } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { BullmqTransport } from '../../src/transports/bullmq/index.ts';
import { until } from '../support/processes.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const redis = await startRedis({ durable: true });
const DOWN_MS = 4_000;

interface Line {
  readonly level: 'info' | 'warn' | 'error' | 'debug';
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

/** A logger that keeps every line, as pino would write it. */
function recordingLogger(lines: Line[]): Logger {
  const at = (level: Line['level']) => (fields: object, message = '') => void lines.push({ level, fields: fields as Record<string, unknown>, message });
  return { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
}

describe.skipIf(redis === undefined)('what a consumer logs while Redis is down', () => {
  const service = redis as RedisService;
  const closers: (() => Promise<unknown>)[] = [];

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await service.close();
  });

  it('warns once when the outage starts, stays at debug while it lasts, and says once that Redis answers again', async () => {
    const lines: Line[] = [];
    const logger = recordingLogger(lines);
    const client: Redis = await openRedis(service.url, 'test');
    closers.push(() => client.quit());
    const transport = new BullmqTransport({ url: service.url, domain: accounts.name, shards: 4, leaseTtlMs: 10_000, logger });
    const owner = new Owner({ domain: accounts, transport, store: new RedisStateStore({ client, domain: accounts.name }), logger });
    const producerTransport = new BullmqTransport({ url: service.url, domain: accounts.name, shards: 4 });
    const producer = new Producer({ domain: accounts, transport: producerTransport });
    closers.push(() => transport.close(), () => owner.close(), () => producerTransport.close(), () => producer.close());
    await owner.start();
    await until('the owner to hold every shard', () => owner.owned().length === 4, 15_000);
    await producer.send('open', 'o', {});

    const before = lines.length;
    await service.restart(DOWN_MS);
    await until('the consumer to say Redis answers again', () => lines.slice(before).some((line) => line.level === 'info' && /answers again/.test(line.message)), 20_000).catch(() => undefined);
    await producer.send('deposit', 'o', { amount: 1 });

    const during = lines.slice(before);
    const loud = during.filter((line) => line.level === 'warn' || line.level === 'error');
    const back = during.filter((line) => /^redis answers again/.test(line.message));
    expect(loud.map((line) => `${line.level} ${line.message} ${JSON.stringify(line.fields)}`)).toEqual([expect.stringMatching(/^warn redis failed/)]);
    expect(Object.values(loud[0]!.fields).some((value) => value instanceof Error), 'a warn carrying an Error, whose stack pino prints').toBe(false);
    expect(back.map((line) => `${line.message} ${JSON.stringify(line.fields)}`)).toEqual([expect.stringMatching(/^redis answers again/)]);
    expect(back[0]!.fields.failedAttempts).toBeGreaterThan(1);
    expect(during.filter((line) => line.level === 'debug').length).toBeGreaterThan(0);
  });
});
