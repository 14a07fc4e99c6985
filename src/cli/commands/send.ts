import type { Config } from '../../config/schema.ts';
import type { AnyDomain } from '../../core/domain.ts';
import { ConfigError, InvalidCommandError, Rejected } from '../../core/errors.ts';
import type { Producer } from '../../runtime/producer.ts';
import { receiptToken } from '../../runtime/receipt.ts';
import { loadDomain } from '../../process/domain.ts';
import { ExitCode } from '../../process/exit-codes.ts';
import { produce } from '../../process/producer.ts';
import { sendLines, type StreamSummary } from '../send-stream.ts';

/** What `shardline send` was asked on its command line. */
export interface SendRequest {
  /** `<type> <key> <json>`, or nothing with `stdin`. */
  readonly args: readonly string[];
  /** Wait for the reply and print it. */
  readonly request: boolean;
  /** Read NDJSON commands from standard input. */
  readonly stdin: boolean;
  /** With `stdin`: most sends awaiting their enqueue before reading pauses. */
  readonly inFlight: number;
}

/** What `send` prints for one command: where it went, or its reply. */
export type SendResult =
  | { readonly ok: true; readonly id: string; readonly shard: number; readonly after: string }
  | { readonly ok: true; readonly reply: unknown }
  | { readonly ok: false; readonly rejected: { readonly reason: string; readonly details?: Readonly<Record<string, unknown>> } };

/**
 * `shardline send`: sends one command of the configured domain, or with `--stdin` every
 * NDJSON line of standard input, and prints the result as JSON on stdout. One command:
 * its receipt (`id`, `shard`, and `after`, the token `shardline get --after` takes), or
 * with `--request` its reply; a business rejection
 * prints `{"ok":false,"rejected":...}` and exits 5, an invalid command exits 2.
 * `--stdin`: a summary of accepted and refused lines as the last line; exit 1 when any
 * line was refused.
 */
export async function sendCommand(config: Config, request: SendRequest, input: NodeJS.ReadableStream, print: (line: string) => void): Promise<number> {
  const command = request.stdin ? undefined : parseArgs(request);
  if (request.request && config.replies.kind === 'memory') {
    throw new ConfigError(['replies.kind: expected redis or kafka for send --request (the owner of another process must reach this one), got memory']);
  }
  const domain = await loadDomain(config.domain);
  return produce(config, domain, 'send', async ({ producer, signal, logger }) => {
    if (command === undefined) {
      const summary: StreamSummary = await sendLines(producer, input, { inFlight: request.inFlight, signal });
      logger.info({ accepted: summary.accepted, refused: summary.refused }, 'stdin sent');
      print(JSON.stringify(summary));
      return summary.refused > 0 ? ExitCode.failure : ExitCode.ok;
    }
    const result = await sendOne(producer, command, request.request);
    print(JSON.stringify(result));
    return result.ok ? ExitCode.ok : ExitCode.rejected;
  });
}

interface OneCommand {
  readonly type: string;
  readonly key: string;
  readonly payload: unknown;
}

function parseArgs(request: SendRequest): OneCommand {
  const [type, key, json] = request.args;
  if (type === undefined || key === undefined) {
    throw new InvalidCommandError(type === undefined ? 'type' : 'key', `expected shardline send <type> <key> [json], or --stdin, got ${request.args.length} argument(s)`);
  }
  let payload: unknown = {};
  if (json !== undefined) {
    try {
      payload = JSON.parse(json);
    } catch (error) {
      throw new InvalidCommandError('payload', `expected JSON, got ${JSON.stringify(json)} (${(error as Error).message})`);
    }
  }
  return { type, key, payload };
}

async function sendOne(producer: Producer<AnyDomain>, command: OneCommand, request: boolean): Promise<SendResult> {
  try {
    if (!request) {
      const receipt = await producer.send(command.type, command.key, command.payload);
      return { ok: true, id: receipt.id, shard: receipt.shard, after: receiptToken(receipt) };
    }
    return { ok: true, reply: await producer.request(command.type, command.key, command.payload) };
  } catch (error) {
    if (error instanceof Rejected) return { ok: false, rejected: error.details === undefined ? { reason: error.reason } : { reason: error.reason, details: error.details } };
    throw error;
  }
}
