/**
 * The environment variables every shardline process reads, and the config path each
 * sets. Kept apart from the schema so that the CLI can list them in `--help` without
 * loading the validation code.
 */
export const ENVIRONMENT: Readonly<Record<string, string>> = {
  SHARDLINE_DOMAIN: 'domain',
  SHARDLINE_TRANSPORT: 'transport',
  SHARDLINE_STORE: 'store.kind',
  SHARDLINE_REPLIES: 'replies.kind',
  SHARDLINE_METRICS_HOST: 'metrics.host',
  SHARDLINE_METRICS_PORT: 'metrics.port',
  SHARDLINE_LOG_LEVEL: 'log.level',
  REDIS_URL: 'redis.url',
  KAFKA_BROKERS: 'kafka.brokers',
};

/** The environment variable that names a config file when `--config` is not given. */
export const CONFIG_FILE_ENV = 'SHARDLINE_CONFIG';
