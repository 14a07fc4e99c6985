/**
 * The memory transport's delivery loop lets the event loop turn every 10 ms. A revocation
 * that arrives during that turn must end the grant at once, not after `revokeTimeoutMs`.
 */
import { describe, expect, it } from 'vitest';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import type { ShardHandler, Subscription } from '../../src/transports/transport.ts';

describe('a memory subscription closed right after a slow delivery', () => {
  it('hands its shard back without waiting out revokeTimeoutMs', async () => {
    const transport = new MemoryTransport({ shards: 1, capacity: 8, revokeTimeoutMs: 60_000 });
    let subscription: Subscription | undefined;
    let closing: Promise<void> | undefined;
    const revoked: number[] = [];
    const handler: ShardHandler = {
      assigned: async () => -1,
      // Slower than the loop's 10 ms, so its next turn yields to the event loop; the close
      // begins in that turn.
      deliver: async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        queueMicrotask(() => {
          closing = subscription!.close();
        });
      },
      revoked: async (grant) => {
        revoked.push(grant.shard);
      },
    };
    await transport.connect();
    subscription = await transport.consume(handler);
    await transport.enqueue(0, [{ key: 'k', value: 'v' }], { overflow: 'block', timeoutMs: 1_000, reserve: 0 });
    while (closing === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    const outcome = await Promise.race([closing.then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 5_000))]);
    expect(outcome).toBe('closed');
    expect(revoked).toEqual([0]);
    await transport.close();
  });
});
