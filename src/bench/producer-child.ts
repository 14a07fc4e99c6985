/**
 * A producer process of `shardline bench --producer-processes N` (started by
 * `producer-processes.ts`): builds the same workload and transport as the measuring
 * process, connects, says `ready`; on `go` sends its share (`index` of `of`) and reports
 * how many commands were accepted.
 */
import { Producer } from '../runtime/producer.ts';
import { buildTransport, failChild, parentMessage } from './bench-child.ts';
import { counters } from './counter-domain.ts';
import { sendShare, type ProducerShare } from './producer-processes.ts';
import { makeWorkload } from './workload.ts';

try {
  const share = await parentMessage<{ share: ProducerShare }>('start').then((m) => m.share);
  const workload = makeWorkload(share.workload.name, share.workload.commands, share.workload.accounts);
  const transport = buildTransport(share.transport);
  const producer = new Producer({ ...share.producer, domain: counters, transport });
  await producer.connect();
  process.send!({ type: 'ready' });
  await parentMessage('go');
  const sent = await sendShare(producer, workload, share);
  await producer.close();
  await transport.close();
  process.send!({ type: 'done', sent }, () => process.exit(0));
} catch (error) {
  failChild(error);
}
