import type { Delivery, TransportMessage } from '../../src/index.ts';

/**
 * Most commands one stream message carries. A command's position is
 * `streamSequence * POSITIONS_PER_MESSAGE + index`: strictly increasing within a shard,
 * the same on every redelivery, and a safe integer up to stream sequence 2^41.
 */
export const POSITIONS_PER_MESSAGE = 4096;

/** Header: commands in this stream message. */
export const COUNT_HEADER = 'Shardline-Count';
/** Header: commands ever enqueued to this shard's subject through this message (see `shard-log.ts`). */
export const TOTAL_HEADER = 'Shardline-Total';

/** One stream message's worth of an enqueue. */
export interface EncodedChunk {
  readonly data: Uint8Array;
  readonly count: number;
}

/**
 * Encodes messages as few stream messages as fit `maxBytes` and {@link POSITIONS_PER_MESSAGE}.
 * JSON keeps any JavaScript string exact (lone surrogates included), which UTF-8 framing would not.
 */
export function encodeChunks(messages: readonly TransportMessage[], maxBytes: number): EncodedChunk[] {
  const chunks: EncodedChunk[] = [];
  let parts: string[] = [];
  let bytes = 2;
  const flush = () => {
    if (parts.length === 0) return;
    chunks.push({ data: Buffer.from(`[${parts.join(',')}]`), count: parts.length });
    parts = [];
    bytes = 2;
  };
  for (const message of messages) {
    const part = JSON.stringify([message.key, message.value]);
    const size = Buffer.byteLength(part) + 1;
    if (parts.length > 0 && (bytes + size > maxBytes || parts.length === POSITIONS_PER_MESSAGE)) flush();
    parts.push(part);
    bytes += size;
  }
  flush();
  return chunks;
}

/**
 * Decodes one stream message into deliveries. A message that is not a batch this codec
 * wrote (someone published to the subject by hand) becomes one delivery carrying the raw
 * text, so that the owner dead-letters it as undecodable instead of the shard stalling.
 */
export function decodeChunk(sequence: number, data: Uint8Array): Delivery[] {
  const text = Buffer.from(data).toString();
  const base = sequence * POSITIONS_PER_MESSAGE;
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed) && parsed.length > 0 && parsed.length <= POSITIONS_PER_MESSAGE && parsed.every(isPair)) {
      return parsed.map(([key, value], index) => ({ key, value, position: base + index }));
    }
  } catch {
    // Not JSON: delivered raw below.
  }
  return [{ key: '', value: text, position: base }];
}

function isPair(value: unknown): value is [string, string] {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string';
}
