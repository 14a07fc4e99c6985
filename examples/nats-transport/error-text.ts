/** The message of an error thrown by the NATS client, for the detail of a shardline error. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
