/**
 * A producer process of `shardline bench --producer-processes N` (started by
 * `producer-processes.ts`): builds the same workload and sender as the measuring process
 * (a shardline producer, or plain kafkajs for the kafkajs-raw baseline), connects, says
 * `ready`; on `go` sends its share (`index` of `of`) and reports how many it sent.
 */
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { fixRequestQueueSpin } from '../transports/kafka/request-queue-fix.ts';
import { Producer } from '../runtime/producer.ts';
import { buildTransport, exitWithParent, failChild, parentMessage } from './bench-child.ts';
import { counters } from './counter-domain.ts';
import { sendShare, type ProducerShare, type SendRange } from './producer-processes.ts';
import type { Workload } from './scenario.ts';
import { rawMessage } from './scenarios/kafkajs-raw.ts';
import { sendRange } from './scenarios/shardline-run.ts';
import { makeWorkload } from './workload.ts';

/** A connected sender of `share` and how to close it. */
async function connect(share: ProducerShare, workload: Workload): Promise<{ send: SendRange; close(): Promise<void> }> {
  const spec = share.sender;
  if (spec.kind === 'kafkajs-raw') {
    fixRequestQueueSpin();
    const producer = new Kafka({ brokers: [...spec.brokers], clientId: 'bench-kafkajs-raw-producer', logLevel: logLevel.NOTHING }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    return {
      send: async (from, to) => {
        const messages = [];
        for (let i = from; i < to; i++) messages.push(rawMessage(workload, i));
        await producer.send({ topic: spec.topic, messages });
      },
      close: () => producer.disconnect(),
    };
  }
  const transport = buildTransport(spec);
  const producer = new Producer({ ...share.producer, domain: counters, transport });
  await producer.connect();
  return {
    send: async (from, to) => {
      if ('perCommand' in share.mode) return void (await producer.send('add', workload.keyOf(from), { by: 1 }));
      await sendRange(producer, workload, from, to);
    },
    async close() {
      await producer.close();
      await transport.close();
    },
  };
}

exitWithParent();
try {
  const share = await parentMessage<{ share: ProducerShare }>('start').then((m) => m.share);
  const workload = makeWorkload(share.workload.name, share.workload.commands, share.workload.accounts);
  const sender = await connect(share, workload);
  process.send!({ type: 'ready' });
  await parentMessage('go');
  const sent = await sendShare(sender.send, workload, share);
  await sender.close();
  process.send!({ type: 'done', sent }, () => process.exit(0));
} catch (error) {
  failChild(error);
}
