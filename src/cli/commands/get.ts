import type { Config } from '../../config/schema.ts';
import { ConfigError, InvalidReadError } from '../../core/errors.ts';
import { loadDomain } from '../../process/domain.ts';
import { ExitCode } from '../../process/exit-codes.ts';
import { openProcess } from '../../process/kit.ts';
import { createReplies, createStore, RedisLink } from '../../process/services.ts';
import { checkRead } from '../../runtime/queries.ts';
import { Reader, type Consistency, type ReadOptions } from '../../runtime/reader.ts';
import { parseReceipt } from '../../runtime/receipt.ts';
import type { StateStore } from '../../state/state-store.ts';

/** What `shardline get` was asked on its command line. */
export interface GetRequest {
  readonly key: string;
  /** `--query`: a query of the domain; absent, the entity's state. */
  readonly query?: string;
  /** `--params`: the query's params as JSON (default `{}`). */
  readonly params?: string;
  /** `--after`: a receipt token `send` printed; the read waits until its command is committed. */
  readonly after?: string;
  /** `--consistency`: committed (default) or owner. */
  readonly consistency?: string;
  /** `--timeout-ms`: longest wait for `--after` or for the owner. */
  readonly timeoutMs?: number;
}

/**
 * `shardline get <key>`: reads one entity of the configured domain — its state, or with
 * `--query` a query's answer — and prints it as JSON with the point of the shard's history
 * it reflects (`value`, `key`, `shard`, `position`, `epoch`, `found`, `consistency`).
 * Committed reads come from the shared store (`store.kind` redis); `--consistency owner`
 * asks the shard's owner through the transport, its answer coming back on the reply bus.
 * Checks everything it can before it connects: a bad read exits 2.
 */
export async function getCommand(config: Config, request: GetRequest, print: (line: string) => void): Promise<number> {
  const consistency = (request.consistency ?? 'committed') as Consistency;
  if (consistency !== 'committed' && consistency !== 'owner') throw new InvalidReadError('consistency', `expected committed or owner, got ${JSON.stringify(consistency)}`);
  const params = parseParams(request.params);
  if (request.after !== undefined) parseReceipt(request.after);
  const refused = readIssues(config, consistency);
  if (refused.length > 0) throw new ConfigError(refused);
  const domain = await loadDomain(config.domain);
  checkRead(domain, request.query ?? '', request.key, params);
  const kit = await openProcess(config, domain, 'get', (connected) => (connected ? { ready: true } : { ready: false, reason: 'connecting' }));
  const redis = new RedisLink(config.redis.url);
  let store: StateStore | undefined;
  let reader: Reader<typeof domain> | undefined;
  try {
    await kit.connect();
    if (consistency !== 'owner') store = await createStore(config, domain.name, redis);
    const replies = consistency === 'owner' ? await createReplies(config, redis) : undefined;
    reader = new Reader({ domain, transport: kit.transport, store, replies });
    const options: ReadOptions = { consistency, after: request.after, timeoutMs: request.timeoutMs };
    const read = request.query === undefined ? await reader.get(request.key, options) : await reader.query(request.query as never, request.key, params as never, options);
    print(JSON.stringify(read));
    return ExitCode.ok;
  } finally {
    await reader?.close();
    await store?.close();
    await kit.close();
    await redis.close();
  }
}

function parseParams(text: string | undefined): unknown {
  if (text === undefined) return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidReadError('params', `expected JSON, got ${JSON.stringify(text.slice(0, 200))} (${(error as Error).message})`);
  }
}

/** What this process cannot read with its configuration: each is a reason it would never get an answer. */
function readIssues(config: Config, consistency: Consistency): string[] {
  if (consistency === 'owner') {
    const issues: string[] = [];
    if (config.transport.kind === 'memory') issues.push('transport: expected a transport shared between processes (bullmq, kafka or a module) for --consistency owner, got memory, whose owners live in another process');
    if (config.replies.kind === 'memory') issues.push('replies.kind: expected redis or kafka for --consistency owner (the owner of another process must answer this one), got memory');
    return issues;
  }
  if (config.store.kind === 'memory') {
    return ['store.kind: expected redis for a committed read (the memory store lives in the owners\' processes), got memory; or ask the owner with --consistency owner'];
  }
  return [];
}
