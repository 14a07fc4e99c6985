import { InvalidReadError } from '../core/errors.ts';

/**
 * Where a command went: its id, its shard, and its place among its producer's commands
 * (`origin`, `seq`), which the shard's origin marks record once it is applied. Plain data,
 * so JSON carries it; {@link receiptToken} makes it one string for a URL or a flag.
 */
export interface Receipt {
  readonly id: string;
  readonly shard: number;
  /** The producer that sent the command. */
  readonly origin: string;
  /** The command's sequence number among that producer's commands. */
  readonly seq: number;
}

/** What a read after a receipt waits for: the shard, and the origin's mark reaching `seq`. */
export type ReceiptPoint = Pick<Receipt, 'shard' | 'origin' | 'seq'>;

/**
 * The receipt as `<shard>.<seq>.<origin>` (an origin is base64url: the token needs no
 * escaping in a URL or a shell). What `shardline get --after` and `GET ...?after=` take.
 */
export function receiptToken(receipt: ReceiptPoint): string {
  return `${receipt.shard}.${receipt.seq}.${receipt.origin}`;
}

const TOKEN = /^(0|[1-9][0-9]{0,9})\.(0|[1-9][0-9]{0,15})\.(.+)$/s;

/**
 * Reads a receipt given as a token or as the object a send returned (from JSON, say).
 * Throws `InvalidReadError` on `field` saying what was expected and what was got.
 */
export function parseReceipt(value: unknown, field = 'after'): ReceiptPoint {
  if (typeof value === 'string') {
    const match = TOKEN.exec(value);
    const point = match === null ? undefined : { shard: Number(match[1]), seq: Number(match[2]), origin: match[3]! };
    if (point === undefined || !Number.isSafeInteger(point.seq)) {
      throw new InvalidReadError(field, `expected a receipt token <shard>.<seq>.<origin> (as a send answers it), got ${JSON.stringify(value.slice(0, 100))}`);
    }
    return point;
  }
  if (typeof value !== 'object' || value === null) {
    throw new InvalidReadError(field, `expected a receipt ({ shard, origin, seq }) or its token, got ${value === null ? 'null' : typeof value}`);
  }
  const { shard, origin, seq } = value as Record<string, unknown>;
  const wrong: string[] = [];
  if (!Number.isSafeInteger(shard) || (shard as number) < 0) wrong.push(`shard to be an integer >= 0, got ${JSON.stringify(shard) ?? 'undefined'}`);
  if (typeof origin !== 'string' || origin === '') wrong.push(`origin to be a non-empty string, got ${JSON.stringify(origin) ?? 'undefined'}`);
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) wrong.push(`seq to be an integer >= 0, got ${JSON.stringify(seq) ?? 'undefined'}`);
  if (wrong.length > 0) throw new InvalidReadError(field, `expected ${wrong.join('; ')}`);
  return { shard: shard as number, origin: origin as string, seq: seq as number };
}
