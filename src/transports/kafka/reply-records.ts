import type { Reply } from '../../common/replies.ts';

/** Why a reply record, or one reply in it, was dropped. */
export type DropReason = 'no value' | 'not JSON' | 'not an array of replies' | 'malformed reply';

/** What one record on the reply topic held: the replies to hand on, and a reason per part dropped. */
export interface ReadReplies {
  readonly replies: Reply[];
  readonly dropped: DropReason[];
}

/**
 * Reads a record an owner published to a listener: a JSON array of replies. Anyone can
 * write to the reply topic, so nothing is trusted: a record that is not such an array is
 * dropped whole, and each element that is not a well-formed reply is dropped alone, so
 * that the replies beside it still arrive.
 */
export function readReplies(value: Buffer | null): ReadReplies {
  if (value === null) return { replies: [], dropped: ['no value'] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString());
  } catch {
    return { replies: [], dropped: ['not JSON'] };
  }
  if (!Array.isArray(parsed)) return { replies: [], dropped: ['not an array of replies'] };
  const replies: Reply[] = [];
  const dropped: DropReason[] = [];
  for (const element of parsed) {
    if (isReply(element)) replies.push(element);
    else dropped.push('malformed reply');
  }
  return { replies, dropped };
}

/** `{ id, ok: true, value? }`, `{ id, ok: false, rejected: { reason, details? } }` or `{ id, ok: false, failed }`. */
function isReply(value: unknown): value is Reply {
  if (!isObject(value) || typeof value.id !== 'string' || value.id === '') return false;
  if (value.ok === true) return true;
  if (value.ok !== false) return false;
  if (typeof value.failed === 'string') return true;
  const { rejected } = value;
  return isObject(rejected) && typeof rejected.reason === 'string' && (rejected.details === undefined || isObject(rejected.details));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
