import type { Reply, ReplyBus } from '../common/replies.ts';

/**
 * A reply value together with the id of the command it answers. `Producer.request()`
 * resolves with the value its reply bus delivered and does not tell its caller the command
 * id; the gateway answers `{ id, reply }`, so the bus it gives its producers wraps each
 * value in one of these on the way in.
 */
export class TaggedReply {
  constructor(
    readonly id: string,
    readonly value: unknown,
  ) {}
}

/**
 * Stands in for a rejection's `details` on the way into the producer, which hands them to
 * the `Rejected` it throws: the gateway reads the command id and the real details back out.
 */
export class TaggedRejection {
  constructor(
    readonly id: string,
    readonly details: Record<string, unknown> | undefined,
  ) {}
}

/**
 * A reply bus that tags every reply it delivers with its command id (see {@link TaggedReply});
 * publishing and closing go straight to the bus it wraps. Only the gateway's own producers
 * use it.
 */
export class TaggingReplyBus implements ReplyBus {
  readonly #inner: ReplyBus;

  constructor(inner: ReplyBus) {
    this.#inner = inner;
  }

  listen(onReplies: (replies: readonly Reply[]) => void): Promise<string> {
    return this.#inner.listen((replies) => onReplies(replies.map(tag)));
  }

  publish(address: string, replies: readonly Reply[]): Promise<void> {
    return this.#inner.publish(address, replies);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

function tag(reply: Reply): Reply {
  if (reply.ok) return { id: reply.id, ok: true, value: new TaggedReply(reply.id, reply.value) };
  if (!('rejected' in reply)) return reply;
  const details = new TaggedRejection(reply.id, reply.rejected.details) as unknown as Record<string, unknown>;
  return { id: reply.id, ok: false, rejected: { reason: reply.rejected.reason, details } };
}
