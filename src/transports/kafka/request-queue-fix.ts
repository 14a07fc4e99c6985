import { createRequire } from 'node:module';

/** Marks kafkajs's `RequestQueue` as fixed, for every copy of shardline in the process. */
const FIXED: unique symbol = Symbol.for('shardline.kafkajs.requestQueueFixed') as never;

/** The part of kafkajs's internal `RequestQueue` (one per broker connection) the fix touches. */
interface RequestQueuePrototype {
  scheduleCheckPendingRequests(this: { pending: readonly unknown[] }): void;
  [FIXED]?: true;
}

/**
 * Stops kafkajs 2.2.4's idle spin (tulios/kafkajs#1704, open; the fix proposed on #1768).
 * Every response a connection receives runs `checkPendingRequests`, which always schedules
 * itself again, 1 ms later when nothing is throttled, so each broker connection calls it
 * about 900 times a second for as long as it lives (measured: 30 ms of CPU a second for
 * one idle producer, 6 with this fix). Worse, a response that arrives after `disconnect()`
 * starts the loop again on a closed connection, and its timer keeps the process alive.
 * With nothing pending there is nothing to check: a request queued later schedules its
 * own check, so skipping the schedule then changes nothing else.
 *
 * It patches kafkajs's `RequestQueue` class, so it holds for every kafkajs client in this
 * process that loads the same kafkajs module (the one `createKafkaClient` builds and, in the
 * bench, the `kafkajs-raw` baseline). Idempotent; a kafkajs without that internal module
 * (another version) is left as it is.
 */
export function fixRequestQueueSpin(): void {
  let prototype: RequestQueuePrototype;
  try {
    const require = createRequire(import.meta.url);
    prototype = (require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueuePrototype }).prototype;
  } catch {
    return;
  }
  if (typeof prototype?.scheduleCheckPendingRequests !== 'function') return;
  if (prototype[FIXED] === true) return;
  const schedule = prototype.scheduleCheckPendingRequests;
  prototype.scheduleCheckPendingRequests = function (this: { pending: readonly unknown[] }) {
    if (this.pending.length === 0) return;
    schedule.call(this);
  };
  prototype[FIXED] = true;
}
