import type { EnqueueOptions, Transport } from '../../transports/transport.ts';
import { describeOutcome, message } from '../harness.ts';
import type { ConformanceCheck } from './check.ts';
import { blockFor, expected } from './delivery.ts';

const rejectWith = (reserve: number): EnqueueOptions => ({ overflow: 'reject', timeoutMs: 1, reserve });

export const concurrentBoundCheck: ConformanceCheck = {
  name: 'bound-concurrent',
  title: 'reject: refuses with QueueFullError once full, never holding more than capacity across concurrent producers',
  budgetMs: (s) => s.handOverMs * 2 + 30_000,
  async run(h) {
    const { boundSlack: slack, handOverMs } = h.settings;
    const producers = await Promise.all([h.transport(), h.transport(), h.transport(), h.transport()]);
    const capacity = producers[0]!.info.capacity;
    const accepted = await Promise.all(producers.map(({ transport }, p) => h.fill(transport, 0, capacity * 2, { tag: `p${p}-` })));
    const total = accepted.reduce((a, b) => a + b, 0);
    h.expect(total <= capacity + slack && total >= capacity - slack, `${capacity} accepted in all (± ${slack})`, () => `${total} (${accepted.join(' + ')})`);
    const depth = await h.bounded('depth(0)', producers[0]!.transport.depth(0), h.settings.probeMs + h.margin());
    h.expect(depth <= capacity + slack, `depth(0) at most ${capacity + slack}`, () => String(depth));
    const again = await h.tryEnqueue(producers[1]!.transport, 0, [message(0, 'over')], rejectWith(0));
    h.expect(!again.ok, 'one more enqueue into the full shard to be refused', () => 'it was accepted');
    h.expectCode(again.ok ? undefined : again.error, 'QUEUE_FULL', 'one more enqueue into the full shard');

    const { handler } = await h.consumer('owner');
    await h.waitFor(`all ${total} accepted messages delivered`, () => handler.values(0).length >= total, handOverMs + 20_000, () => String(handler.values(0).length));
    h.expect(new Set(handler.values(0)).size === total, `${total} distinct messages`, () => String(new Set(handler.values(0)).size));
  },
};

export const reserveCheck: ConformanceCheck = {
  name: 'reserve',
  title: 'reserve: keeps the reserved slots free in reject and in block mode; a smaller reserve and force get in',
  budgetMs: (s) => s.handOverMs + 30_000,
  async run(h) {
    const { boundSlack: slack, probeMs } = h.settings;
    const { transport, info } = await h.transport();
    const reserve = Math.max(1, Math.floor(info.capacity / 4));
    const shard = 1 % info.shardCount;
    const limit = info.capacity - reserve;
    const rejected = await h.fill(transport, shard, info.capacity + slack + 1, { reserve, tag: 'reject-' });
    h.expect(rejected <= limit + slack, `reject with reserve ${reserve} to stop at ${limit} of capacity ${info.capacity}`, () => `${rejected} accepted`);

    // Block mode, the producers' default: waiting enqueues must keep the reserve free too.
    const blocking: EnqueueOptions = { overflow: 'block', timeoutMs: probeMs, reserve };
    let blocked = 0;
    for (; rejected + blocked <= info.capacity + slack; blocked++) {
      const outcome = await h.tryEnqueue(transport, shard, [message(shard, blocked, 'block-')], blocking);
      if (outcome.ok) continue;
      h.expectCode(outcome.error, 'TIMEOUT', `a block enqueue with reserve ${reserve} into a shard holding ${rejected + blocked}`);
      break;
    }
    h.expect(
      rejected + blocked <= limit + slack,
      `block with reserve ${reserve} to wait (and time out) once ${limit} of capacity ${info.capacity} are held`,
      () => `${rejected + blocked} held: ${blocked} more admitted by block${blocked > 0 ? ', eating into the reserve' : ''}`,
    );
    await h.enqueue(transport, shard, [message(shard, 'unreserved')], rejectWith(0));
    await h.enqueue(transport, shard, [message(shard, 'forced')], { overflow: 'force', timeoutMs: 1, reserve: 0 });
  },
};

export const oversizedCheck: ConformanceCheck = {
  name: 'oversized-batch',
  title: 'a batch larger than capacity - reserve throws QueueFullError at once, in block and in reject mode, and enqueues nothing',
  budgetMs: (s) => s.handOverMs + 30_000,
  async run(h) {
    const { probeMs } = h.settings;
    const { transport, info } = await h.transport();
    const reserve = Math.max(1, Math.floor(info.capacity / 4));
    const timeoutMs = probeMs * 3;
    const cases: [string, number, EnqueueOptions][] = [
      ['block', info.capacity + 1, { overflow: 'block', timeoutMs, reserve: 0 }],
      ['block', info.capacity - reserve + 1, { overflow: 'block', timeoutMs, reserve }],
      ['reject', info.capacity - reserve + 1, { overflow: 'reject', timeoutMs, reserve }],
    ];
    for (const [mode, size, options] of cases) {
      const batch = Array.from({ length: size }, (_, i) => message(0, i, `${mode}-${options.reserve}-`));
      const outcome = await h.tryEnqueue(transport, 0, batch, options);
      const what = `a ${mode} enqueue of ${size} messages with reserve ${options.reserve} into an empty shard of capacity ${info.capacity}`;
      h.expect(!outcome.ok, `${what} to throw QueueFullError`, () => 'it was accepted');
      h.expectCode(outcome.ok ? undefined : outcome.error, 'QUEUE_FULL', what);
      h.expect(outcome.ms < timeoutMs, `${what} to be refused at once, not after its timeout of ${timeoutMs} ms`, () => `${Math.round(outcome.ms)} ms`);
    }
    const depth = await h.bounded('depth(0)', transport.depth(0), probeMs + h.margin());
    h.expect(depth === 0, 'nothing of the refused batches enqueued: depth(0) 0', () => String(depth));
  },
};

export const allOrNoneCheck: ConformanceCheck = {
  name: 'all-or-none',
  title: 'an enqueue is all or none: a batch refused (reject) or timed out (block) leaves none of itself queued',
  budgetMs: (s) => s.handOverMs * 2 + 30_000,
  async run(h) {
    const { handOverMs, probeMs, boundSlack: slack } = h.settings;
    const { transport: producer, info } = await h.transport();
    const room = 2;
    const held = info.capacity - room - slack;
    for (let i = 0; i < held; i++) await h.enqueue(producer, 0, [message(0, i)], blockFor(handOverMs));
    const batch = (tag: string) => Array.from({ length: room + slack + 1 }, (_, i) => message(0, i, tag));
    const outcomes = {
      reject: await h.tryEnqueue(producer, 0, batch('refused-'), rejectWith(0)),
      block: await h.tryEnqueue(producer, 0, batch('timed-out-'), { overflow: 'block', timeoutMs: probeMs, reserve: 0 }),
    };
    if (slack === 0) {
      h.expect(!outcomes.reject.ok, `a reject batch of ${room + 1} into ${room} free slots to be refused`, () => 'it was accepted');
      h.expectCode(outcomes.reject.ok ? undefined : outcomes.reject.error, 'QUEUE_FULL', `a reject batch of ${room + 1} into ${room} free slots`);
      h.expect(!outcomes.block.ok, `a block batch of ${room + 1} into ${room} free slots to time out`, () => 'it was accepted');
      h.expectCode(outcomes.block.ok ? undefined : outcomes.block.error, 'TIMEOUT', `a block batch of ${room + 1} into ${room} free slots`);
    }
    const end = message(0, 'end');
    const admitted = (tag: string, ok: boolean) => (ok ? batch(tag).map((m) => m.value) : []);
    const wanted = [...Array.from({ length: held }, (_, i) => message(0, i).value), ...admitted('refused-', outcomes.reject.ok), ...admitted('timed-out-', outcomes.block.ok)];
    const { handler } = await h.consumer('owner');
    await h.enqueue(producer, 0, [end], blockFor(handOverMs + 10_000));
    await h.waitFor('the last message delivered', () => handler.values(0).includes(end.value), handOverMs + 20_000, () => String(handler.values(0).length));
    const got = handler.values(0).filter((value) => value !== end.value);
    h.expect(got.join('\n') === wanted.join('\n'), `exactly the ${held} accepted messages, and of the refused batches none (or, where accepted, all)`, () =>
      `${got.length} messages, of them ${got.filter((v) => v.includes('refused-') || v.includes('timed-out-')).join(', ') || 'none'} from the refused batches (${describeOutcome(outcomes.reject.ok ? undefined : outcomes.reject.error)}; ${describeOutcome(outcomes.block.ok ? undefined : outcomes.block.error)})`,
    );
  },
};

export const blockCheck: ConformanceCheck = {
  name: 'block',
  title: 'block: waits for room, times out with TimeoutError within its timeout, and resumes when the owner acknowledges',
  budgetMs: (s) => s.handOverMs * 2 + 40_000,
  async run(h) {
    const { handOverMs, probeMs } = h.settings;
    const { transport: producer, info } = await h.transport();
    const accepted = await h.fill(producer, 0, info.capacity * 2);
    const timedOut = await h.tryEnqueue(producer, 0, [message(0, 'late')], { overflow: 'block', timeoutMs: probeMs, reserve: 0 });
    h.expect(!timedOut.ok, `a block enqueue into a full shard with timeoutMs ${probeMs} to time out`, () => 'it was accepted');
    h.expectCode(timedOut.ok ? undefined : timedOut.error, 'TIMEOUT', `a block enqueue into a full shard with timeoutMs ${probeMs}`);
    const waiting = h.enqueue(producer, 0, [message(0, accepted)], blockFor(handOverMs + 20_000));
    // Awaited below; a rejection in the meantime must not count as unhandled.
    waiting.catch(() => undefined);
    const { handler } = await h.consumer('owner');
    const result = (await waiting) as { waitedMs?: unknown };
    h.expect(typeof result.waitedMs === 'number' && result.waitedMs > 0, 'waitedMs > 0 for an enqueue that waited', () => JSON.stringify(result));
    const last = message(0, accepted).value;
    await h.waitFor('the waiting message delivered', () => handler.values(0).includes(last), handOverMs + 10_000);
    const values = handler.values(0);
    h.expect(values.join() === Array.from({ length: accepted + 1 }, (_, i) => message(0, i).value).join(), `the ${accepted + 1} messages in order`, () => values.join(', '));
  },
};

export const enqueueNowCheck: ConformanceCheck = {
  name: 'enqueue-now',
  title: 'enqueueNow, where implemented: admits only what enqueue would admit at once (bound, reserve, a producer already waiting first), else returns false having done nothing; order kept with enqueue',
  budgetMs: (s) => s.handOverMs + 30_000,
  async run(h) {
    const { transport, info } = await h.transport();
    if (transport.enqueueNow === undefined) return;
    const { boundSlack: slack, handOverMs, probeMs } = h.settings;
    const shard = 0;
    const reserve = Math.max(2, Math.floor(info.capacity / 4));
    const limit = info.capacity - reserve;
    const now = (target: Transport, value: number | string, options: EnqueueOptions): boolean => {
      try {
        return target.enqueueNow!(shard, [message(shard, value, 'now-')], options);
      } catch (error) {
        h.expect(false, `enqueueNow to return true or false`, () => `it threw ${describeOutcome(error)}`);
        return false;
      }
    };
    let admitted = 0;
    while (admitted <= info.capacity + slack && now(transport, admitted, rejectWith(reserve))) admitted++;
    h.expect(Math.abs(admitted - limit) <= slack, `enqueueNow with reserve ${reserve} to admit ${limit} of capacity ${info.capacity}, then return false`, () => `${admitted} admitted`);
    const depth = await h.bounded('depth(0)', transport.depth(shard), probeMs + h.margin());
    h.expect(depth <= admitted + slack, `an enqueueNow that returned false to have enqueued nothing: depth(0) at most ${admitted}`, () => String(depth));
    h.expect(now(transport, 'reserved', rejectWith(0)), 'enqueueNow with reserve 0 to take a reserved slot', () => 'false');

    // Another producer waits for room for one more message than is free; one message would fit, and must wait behind it.
    const free = info.capacity - admitted - 1;
    const other = await h.transport();
    const waiting = Array.from({ length: free + 1 }, (_, i) => message(shard, i, 'waiting-'));
    const blocked = h.enqueue(other.transport, shard, waiting, blockFor(handOverMs + 20_000));
    await new Promise((resolve) => setTimeout(resolve, probeMs));
    h.expect(!now(transport, 'behind', rejectWith(0)), `enqueueNow to return false while another producer waits for room, even where its message fits (${free} free)`, () => 'it admitted the message ahead of the waiting producer');

    const { handler } = await h.consumer('owner');
    await blocked;
    h.expect(now(transport, 'after', rejectWith(0)), 'enqueueNow to admit once the shard has room and no one waits', () => 'false');
    const inOrder = [...expected(shard, admitted, 'now-'), message(shard, 'reserved', 'now-').value, ...waiting.map((m) => m.value), message(shard, 'after', 'now-').value];
    await h.waitFor(`all ${inOrder.length} admitted messages delivered`, () => handler.values(shard).length >= inOrder.length, handOverMs + 20_000, () => String(handler.values(shard).length));
    const got = handler.values(shard);
    h.expect(JSON.stringify(got) === JSON.stringify(inOrder), `the messages in the order they were admitted: ${inOrder.join(', ')}`, () => got.join(', '));
  },
};
