import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { openRedis } from '../../src/common/redis.ts';
import { until } from '../support/processes.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const redis = await startRedis();

/** Counts the writes `client`'s socket hands to the operating system, and the commands in them. */
function countWrites(client: Redis): { writes: number; chunks: number } {
  const socket = client.stream as Socket & { _write: (...args: unknown[]) => void; _writev: (chunks: unknown[], ...rest: unknown[]) => void };
  const counts = { writes: 0, chunks: 0 };
  const write = socket._write.bind(socket);
  const writev = socket._writev.bind(socket);
  socket._write = (...args) => {
    counts.writes++;
    counts.chunks++;
    write(...args);
  };
  socket._writev = (chunks, ...rest) => {
    counts.writes++;
    counts.chunks += chunks.length;
    writev(chunks, ...rest);
  };
  return counts;
}

describe.skipIf(redis === undefined)('a shardline Redis connection', () => {
  const service = redis as RedisService;
  const clients: Redis[] = [];

  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await service.close();
  });

  it('writes the commands issued in one turn in one write, and answers each', async () => {
    const client = await openRedis(service.url, 'test');
    clients.push(client);
    const counts = countWrites(client);
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => client.echo(`m${i}`)));
    expect(replies).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    expect(counts).toEqual({ writes: 1, chunks: 20 });
  });

  it('does so again on the connection it makes after a reconnect', async () => {
    const client = await openRedis(service.url, 'test');
    clients.push(client);
    const first = client.stream;
    client.disconnect(true);
    await until('reconnected', async () => client.status === 'ready' && client.stream !== first, 10_000);
    const counts = countWrites(client);
    await Promise.all(Array.from({ length: 5 }, (_, i) => client.echo(`r${i}`)));
    expect(counts).toEqual({ writes: 1, chunks: 5 });
  });
});
