import { GatewayRequestError } from './request-error.ts';

/** The route label of a request in metrics: a command sent, a command waited on, a read, a probe, or none of these. */
export type RouteName = 'send' | 'request' | 'read' | 'health' | 'unmatched';

/** Where a request goes, from its method and path alone (nothing decoded or checked yet). */
export type Match =
  | { readonly kind: 'health'; readonly probe: 'healthz' | 'readyz' }
  | { readonly kind: 'command'; readonly route: 'send' | 'request'; readonly segments: readonly [string, string, string]; readonly query: URLSearchParams }
  /** `segments` are domain, query ('' for the state itself: `/v1/{domain}/{key}`) and key. */
  | { readonly kind: 'read'; readonly segments: readonly [string, string, string]; readonly query: URLSearchParams }
  | { readonly kind: 'unmatched' };

/** A read request once its path and query are decoded; `after` and `consistency` are checked by the reader. */
export interface ReadTarget {
  readonly domain: string;
  /** The query, or '' for the entity's state. */
  readonly query: string;
  readonly key: string;
  readonly params: unknown;
  readonly after: string | undefined;
  readonly consistency: string | undefined;
}

/** A command request once its path and query are decoded. */
export interface CommandTarget {
  readonly domain: string;
  readonly type: string;
  readonly key: string;
  /** `?wait=true`: answer with the handler's reply rather than once enqueued. */
  readonly wait: boolean;
}

const SEGMENT_NAMES = ['domain', 'type', 'key'] as const;
const READ_SEGMENT_NAMES = ['domain', 'query', 'key'] as const;
const READ_PARAMETERS = ['after', 'consistency', 'params'];

/**
 * Matches `/healthz`, `/readyz`, `/v1/{domain}/{type}/{key}[?wait=true]` (a command, or a
 * query when the method is GET) and `/v1/{domain}/{key}` (the state).
 */
export function matchRoute(url: string, method = 'POST'): Match {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  if (path === '/healthz' || path === '/readyz') return { kind: 'health', probe: path.slice(1) as 'healthz' | 'readyz' };
  const parts = path.split('/');
  if ((parts.length !== 4 && parts.length !== 5) || parts[0] !== '' || parts[1] !== 'v1') return { kind: 'unmatched' };
  const query = new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1));
  if (parts.length === 4) return { kind: 'read', segments: [parts[2]!, '', parts[3]!], query };
  if (method === 'GET') return { kind: 'read', segments: [parts[2]!, parts[3]!, parts[4]!], query };
  const route = query.get('wait') === 'true' ? 'request' : 'send';
  return { kind: 'command', route, segments: [parts[2]!, parts[3]!, parts[4]!], query };
}

/**
 * Percent-decodes a read's path and checks its query: at most one each of `after` (a
 * receipt token), `consistency` and `params` (the query's params as JSON; `{}` when absent).
 */
export function readTarget(match: Extract<Match, { kind: 'read' }>): ReadTarget {
  const [domain, query, key] = match.segments.map((segment, i) => (segment === '' ? '' : decodeSegment(segment, READ_SEGMENT_NAMES[i]!))) as [string, string, string];
  for (const name of new Set(match.query.keys())) {
    if (!READ_PARAMETERS.includes(name)) {
      throw new GatewayRequestError(400, 'INVALID_QUERY', `unknown query parameter ${JSON.stringify(name)}; expected after, consistency or params`, { field: `query.${name}` });
    }
    if (match.query.getAll(name).length > 1) throw new GatewayRequestError(400, 'INVALID_QUERY', `expected ${name} at most once, got it ${match.query.getAll(name).length} times`, { field: name });
  }
  const text = match.query.get('params');
  let params: unknown = {};
  if (text !== null) {
    try {
      params = JSON.parse(text);
    } catch (error) {
      throw new GatewayRequestError(400, 'INVALID_QUERY', `expected params to be JSON, got ${JSON.stringify(text.slice(0, 200))} (${(error as Error).message})`, { field: 'params' });
    }
  }
  return { domain, query, key, params, after: match.query.get('after') ?? undefined, consistency: match.query.get('consistency') ?? undefined };
}

/** Percent-decodes the path segments and checks the query: only `wait`, `true` or `false`. */
export function commandTarget(match: Extract<Match, { kind: 'command' }>): CommandTarget {
  const [domain, type, key] = match.segments.map((segment, i) => decodeSegment(segment, SEGMENT_NAMES[i]!)) as [string, string, string];
  for (const name of new Set(match.query.keys())) {
    if (name !== 'wait') throw new GatewayRequestError(400, 'INVALID_QUERY', `unknown query parameter ${JSON.stringify(name)}; expected only "wait"`, { field: `query.${name}` });
  }
  const waits = match.query.getAll('wait');
  if (waits.length > 1 || (waits.length === 1 && waits[0] !== 'true' && waits[0] !== 'false')) {
    throw new GatewayRequestError(400, 'INVALID_QUERY', `expected wait=true or wait=false once, got ${JSON.stringify(waits.join('&'))}`, { field: 'wait' });
  }
  return { domain, type, key, wait: waits[0] === 'true' };
}

function decodeSegment(segment: string, name: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GatewayRequestError(400, 'INVALID_PATH', `expected the ${name} to be percent-encoded UTF-8, got ${JSON.stringify(segment)}`, { field: name });
  }
}
