import type { KafkaMessage } from 'kafkajs';
import type { Delivery } from '../transport.ts';

/** How many bytes of an oversized record's value its delivery (and so its dead letter) keeps. */
export const KEPT_BYTES = 1_024;

/**
 * A fetched record as a delivery. Another program can write anything into the domain's
 * topic; what shardline's producers never write — a record without a value or a key, or a
 * value over `maxRecordBytes` (an enqueue refuses those) — is handed over `unreadable`
 * with why, for the owner to dead-letter, and never thrown. Anything else is the owner's
 * to decode.
 */
export function toDelivery(message: KafkaMessage, maxRecordBytes: number): Delivery {
  const position = Number(message.offset);
  const key = message.key?.toString() ?? '';
  const { value } = message;
  if (value === null) return { key, value: '', position, unreadable: 'record has no value (null)' };
  if (value.length > maxRecordBytes) {
    return {
      key,
      value: value.subarray(0, KEPT_BYTES).toString(),
      position,
      unreadable: `record value is ${value.length} bytes, over maxRecordBytes (${maxRecordBytes}); its first ${KEPT_BYTES} bytes are kept`,
    };
  }
  if (message.key === null) return { key, value: value.toString(), position, unreadable: 'record has no key' };
  return { key, value: value.toString(), position };
}
