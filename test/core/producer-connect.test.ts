/**
 * A producer whose transport could not connect tries again on its next call: a broker that
 * was down at start-up must not leave the producer refusing every command until restarted.
 */
import { describe, expect, it } from 'vitest';
import { ConnectionError } from '../../src/core/errors.ts';
import { Producer } from '../../src/runtime/producer.ts';
import type { TransportInfo } from '../../src/transports/transport.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { counters, TransportDecorator } from './helpers.ts';

/** Refuses the first `failures` connects, as a broker that is not up yet does. */
class LateBroker extends TransportDecorator {
  failures: number;
  attempts = 0;

  constructor(failures: number) {
    super('late-broker', new MemoryTransport({ shards: 2 }));
    this.failures = failures;
  }

  override connect(): Promise<TransportInfo> {
    this.attempts += 1;
    if (this.attempts <= this.failures) return Promise.reject(new ConnectionError('late-broker', 'ECONNREFUSED', { cause: new Error('ECONNREFUSED') }));
    return super.connect();
  }
}

describe('Producer.connect', () => {
  it('connects again after a failed connect instead of keeping its failure', async () => {
    const transport = new LateBroker(2);
    const producer = new Producer({ domain: counters, transport });
    try {
      await expect(producer.send('add', 'a', { by: 1 })).rejects.toThrow(ConnectionError);
      await expect(producer.connect()).rejects.toThrow(ConnectionError);
      await expect(producer.send('add', 'a', { by: 1 })).resolves.toMatchObject({ shard: expect.any(Number) });
      expect(transport.attempts).toBe(3);
      expect(producer.shardCount).toBe(2);
    } finally {
      await producer.close();
      await transport.close();
    }
  });
});
