import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaClient } from '../../src/transports/kafka/kafka-client.ts';
import { KafkaLog } from '../../src/transports/kafka/kafka-log.ts';
import { silentLogger } from '../../src/common/logger.ts';
import { startKafka, uniquePrefix } from '../support/kafka.ts';

/** kafkajs's internal queue of one broker connection's requests, as far as these tests touch it. */
interface RequestQueue {
  pending: unknown[];
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  fulfillRequest(response: { correlationId: number; payload: Buffer | null; size: number }): void;
  destroy(): void;
  checkPendingRequests(): void;
}
type RequestQueueClass = (new (options: Record<string, unknown>) => RequestQueue) & { prototype: RequestQueue };

const RequestQueueClass = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as RequestQueueClass;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

const kafka = await startKafka();

describe.skipIf(kafka === undefined)("shardline's kafkajs connections, idle", () => {
  afterAll(async () => {
    await kafka?.close();
  });

  it('check for pending requests only when one is pending, not every millisecond (tulios/kafkajs#1704)', async () => {
    const client = createKafkaClient({ brokers: kafka!.brokers, clientId: 'idle-connections', connectionTimeoutMs: 3_000, retries: 2 }, new KafkaLog(silentLogger));
    const producer = client.producer();
    const checks = { count: 0 };
    const check = RequestQueueClass.prototype.checkPendingRequests;
    RequestQueueClass.prototype.checkPendingRequests = function (this: RequestQueue) {
      checks.count++;
      check.call(this);
    };
    try {
      await producer.connect();
      await producer.send({ topic: `${uniquePrefix('idle')}topic`, messages: [{ key: 'k', value: 'v' }] });
      checks.count = 0;
      await new Promise((resolve) => setTimeout(resolve, 500));
      // kafkajs 2.2.4 alone: about 450 in half a second per connection that has had a response.
      expect(checks.count).toBe(0);
    } finally {
      RequestQueueClass.prototype.checkPendingRequests = check;
      await producer.disconnect();
    }
  });
});

describe("a kafkajs connection's request queue, once shardline built a client", () => {
  it('leaves no timer behind when a response arrives after the connection was closed', () => {
    createKafkaClient({ brokers: ['127.0.0.1:1'], clientId: 'fix-applied', connectionTimeoutMs: 100, retries: 0 }, new KafkaLog(silentLogger));
    const queue = new RequestQueueClass({ maxInFlightRequests: null, requestTimeout: 1_000, enforceRequestTimeout: false, clientId: 'c', broker: 'b', logger: quiet });
    queue.destroy();
    // A late response: kafkajs 2.2.4 schedules a check that schedules the next, every millisecond, for good.
    queue.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
    expect(queue.throttleCheckTimeoutId).toBeNull();
  });

  it('still schedules a check for a request waiting behind the in-flight limit', () => {
    const queue = new RequestQueueClass({ maxInFlightRequests: 0, requestTimeout: 1_000, enforceRequestTimeout: false, clientId: 'c', broker: 'b', logger: quiet });
    queue.pending.push({ correlationId: 7 });
    queue.checkPendingRequests();
    expect(queue.throttleCheckTimeoutId).not.toBeNull();
    queue.destroy();
  });
});
