import type { Config } from '../../config/schema.ts';
import { consume } from '../../process/consumer.ts';
import { loadDomain } from '../../process/domain.ts';

/**
 * `shardline consumer`: an owner of the configured domain (built in, or a module's
 * `defineDomain` result) until SIGTERM/SIGINT; `runConsumer` of `shardline/process` is
 * the same for a domain object in your own program. `dashboardToken` turns on the
 * dashboard's redrive when `--dashboard` serves it.
 */
export async function consumerCommand(config: Config, dashboardToken?: string): Promise<number> {
  return consume(config, await loadDomain(config.domain), dashboardToken);
}
