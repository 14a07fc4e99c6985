import { z } from 'zod';
import { afterAll, describe, expect, it } from 'vitest';
import { defineDomain } from '../../src/core/domain.ts';
import { shardOf } from '../../src/core/router.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { BullmqTransport } from '../../src/transports/bullmq/index.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const redis = await startRedis();

/** Keeps every note it is sent, in order. */
const notes = defineDomain({
  name: 'notes',
  initial: (): { notes: string[]; tags: string[] } => ({ notes: [], tags: [] }),
  commands: { note: z.object({ text: z.string(), tags: z.record(z.string(), z.number()) }) },
}).handle({
  note: (state, { text, tags }) => ({ state: { notes: [...state.notes, text], tags: [...state.tags, ...Object.keys(tags)] } }),
});

describe.skipIf(redis === undefined)('commands in BullMQ jobs, as objects or as encoded pairs', () => {
  const service = redis as RedisService;
  afterAll(() => service.close());

  it('delivers every payload string exactly, lone surrogates included, whichever way its job carries it', async () => {
    const ownerTransport = new BullmqTransport({ url: service.url, domain: notes.name, shards: 2 });
    const producerTransport = new BullmqTransport({ url: service.url, domain: notes.name, shards: 2 });
    const owner = new Owner({ domain: notes, transport: ownerTransport });
    const producer = new Producer({ domain: notes, transport: producerTransport });
    await owner.start();
    // One sendMany: the plain commands travel as objects and the ones with a lone surrogate
    // as encoded pairs, in the same jobs; a job Redis could not decode would lose them all.
    const texts = ['plain', 'x\ud800', 'caf\u00e9 😀', '\udc00', 'quote " and \\ backslash', '\ud83d\ude00'];
    const outcomes = await producer.sendMany(texts.map((text, i) => ({ type: 'note' as const, key: 'n', payload: { text, tags: { [i === 2 ? 'k\ud800' : `t${i}`]: i } } })));
    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    try {
      const deadline = Date.now() + 15_000;
      let state: { notes: string[]; tags: string[] } | undefined;
      while (Date.now() < deadline) {
        state = (await owner.store.load(shardOf('n', 2), ['n'])).get('n') as typeof state;
        if (state?.notes.length === texts.length) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(state?.notes).toEqual(texts);
      expect(state?.tags).toEqual(['t0', 't1', 'k\ud800', 't3', 't4', 't5']);
      expect(await owner.deadLetters.list(10)).toEqual([]);
    } finally {
      await producer.close();
      await owner.close();
      await producerTransport.close();
      await ownerTransport.close();
    }
  });
});
