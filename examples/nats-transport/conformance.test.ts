import { afterAll, beforeAll, describe } from 'vitest';
import { describeTransportConformance } from '../../src/testing/index.ts';
import { natsConformance } from './conformance-options.ts';
import { natsAvailable, startNatsServer, type NatsServer } from './nats-server.ts';

let server: NatsServer | undefined;
beforeAll(async () => {
  if (natsAvailable()) server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

describe.skipIf(!natsAvailable())('nats-transport', () => {
  describeTransportConformance(natsConformance(() => server!.url));
});
