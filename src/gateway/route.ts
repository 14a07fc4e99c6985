import { GatewayRequestError } from './request-error.ts';

/** The route label of a request in metrics: a command sent, a command waited on, a probe, or none of these. */
export type RouteName = 'send' | 'request' | 'health' | 'unmatched';

/** Where a request goes, from its path alone (nothing decoded or checked yet). */
export type Match =
  | { readonly kind: 'health'; readonly probe: 'healthz' | 'readyz' }
  | { readonly kind: 'command'; readonly route: 'send' | 'request'; readonly segments: readonly [string, string, string]; readonly query: URLSearchParams }
  | { readonly kind: 'unmatched' };

/** A command request once its path and query are decoded. */
export interface CommandTarget {
  readonly domain: string;
  readonly type: string;
  readonly key: string;
  /** `?wait=true`: answer with the handler's reply rather than once enqueued. */
  readonly wait: boolean;
}

const SEGMENT_NAMES = ['domain', 'type', 'key'] as const;

/** Matches `/healthz`, `/readyz` and `/v1/{domain}/{type}/{key}[?wait=true]`. */
export function matchRoute(url: string): Match {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  if (path === '/healthz' || path === '/readyz') return { kind: 'health', probe: path.slice(1) as 'healthz' | 'readyz' };
  const parts = path.split('/');
  if (parts.length !== 5 || parts[0] !== '' || parts[1] !== 'v1') return { kind: 'unmatched' };
  const query = new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1));
  const route = query.get('wait') === 'true' ? 'request' : 'send';
  return { kind: 'command', route, segments: [parts[2]!, parts[3]!, parts[4]!], query };
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
