import type { Config } from '../../config/schema.ts';
import { consume } from '../../process/consumer.ts';
import { loadDomain } from '../../process/domain.ts';

/**
 * `shardline consumer`: an owner of the configured domain (built in, or a module's
 * `defineDomain` result) until SIGTERM/SIGINT; `runConsumer` of `shardline/process` is
 * the same for a domain object in your own program.
 */
export async function consumerCommand(config: Config): Promise<number> {
  return consume(config, await loadDomain(config.domain));
}
