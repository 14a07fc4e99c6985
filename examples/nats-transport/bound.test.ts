import { randomBytes } from 'node:crypto';
import { connect, type MsgRequest } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/index.ts';
import { RecordingHandler, waitFor } from '../../src/testing/index.ts';
import { COUNT_HEADER } from './batch-codec.ts';
import { NatsTransport } from './index.ts';
import { natsAvailable, startNatsServer, type NatsServer } from './nats-server.ts';

let server: NatsServer | undefined;
beforeAll(async () => {
  if (natsAvailable()) server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

describe.skipIf(!natsAvailable())('bound across connections', () => {
  it('never holds more than capacity while blocked producers on four connections push batches past a slow owner', async () => {
    const options = { servers: server!.url, prefix: `b${randomBytes(4).toString('hex')}`, shards: 2, capacity: 12, pollIntervalMs: 20, storage: 'memory' as const };
    const make = () => new NatsTransport(options, { domain: 'bound', logger: silentLogger });
    const producers = [make(), make(), make(), make()];
    const owner = make();
    const handler = new RecordingHandler('owner', { processMs: 3 });
    const all = [...producers, owner];
    try {
      await Promise.all(all.map((t) => t.connect()));
      const batches = 15;
      let waited = 0;
      const sending = Promise.all(
        producers.map(async (t, p) => {
          for (let b = 0; b < batches; b++) {
            const batch = [0, 1, 2].map((i) => ({ key: `p${p}`, value: `${p}:${b * 3 + i}` }));
            const result = await t.enqueue(0, batch, { overflow: 'block', timeoutMs: 20_000, reserve: 0 });
            if (result.waitedMs > 0) waited++;
          }
        }),
      );
      // Two samplers: the transport's own depth(), and the commands the server holds in the
      // subject, read message by message, which does not trust the transport's arithmetic.
      const nc = await connect({ servers: server!.url });
      const jsm = await nc.jetstreamManager();
      const stream = `${options.prefix}_bound`;
      const subject = `${options.prefix}.bound.0`;
      /** The stream's last sequence and the subject's message count: unchanged, nothing was appended or purged. */
      const snapshot = async () => {
        const { state } = await jsm.streams.info(stream, { subjects_filter: subject });
        return `${state.last_seq}/${state.subjects?.[subject] ?? 0}`;
      };
      /**
       * The commands stored in the subject: the count each message carries, summed over
       * every message (a marker carries 0; acknowledged messages not yet purged still count,
       * as they do for the bound). Undefined when a write landed during the reads.
       */
      const stored = async (): Promise<number | undefined> => {
        const before = await snapshot();
        let commands = 0;
        for (let seq = 0; ; ) {
          const message = await jsm.streams.getMessage(stream, { seq, next_by_subj: subject } as MsgRequest).catch(() => undefined);
          if (message === undefined) break;
          commands += Number(message.header.get(COUNT_HEADER));
          seq = message.seq + 1;
        }
        return (await snapshot()) === before ? commands : undefined;
      };
      let maxDepth = 0;
      let maxServerCount = 0;
      let serverSamples = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          maxDepth = Math.max(maxDepth, await owner.depth(0));
          const commands = await stored();
          if (commands !== undefined) {
            serverSamples++;
            maxServerCount = Math.max(maxServerCount, commands);
          }
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      await waitFor('the shard full before the owner starts', async () => (await owner.depth(0)) === 12, 10_000);
      const subscription = await owner.consume(handler);
      await sending;
      await waitFor('every message delivered', () => handler.values(0).length === producers.length * batches * 3, 20_000);
      sampling = false;
      await sampler;
      await nc.close();
      await subscription.close();

      expect(serverSamples).toBeGreaterThan(0);
      expect(maxServerCount).toBeLessThanOrEqual(12);
      expect(maxDepth).toBeLessThanOrEqual(12);
      expect(waited).toBeGreaterThan(0);
      for (let p = 0; p < producers.length; p++) {
        const mine = handler.values(0).filter((v) => v.startsWith(`${p}:`));
        expect(mine).toEqual(Array.from({ length: batches * 3 }, (_, i) => `${p}:${i}`));
      }
      await waitFor('acknowledged messages purged', async () => (await owner.depth(0)) === 0, 5_000);
    } finally {
      await Promise.all(all.map((t) => t.close()));
    }
  }, 60_000);
});
