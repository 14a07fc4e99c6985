/** One series of an instant-query result. */
export interface Sample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

/** Runs an instant query against Prometheus' HTTP API; throws when the query is refused. */
export async function query(prometheusUrl: string, expr: string): Promise<Sample[]> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await response.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  if (body.status !== 'success') throw new Error(`query ${expr} refused: ${body.error ?? response.status}`);
  return body.data!.result.map((series) => ({ metric: series.metric, value: Number(series.value[1]) }));
}
