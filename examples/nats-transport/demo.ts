// Runs the accounts demo on NATS JetStream and prints its summary as one JSON line:
//   npx tsx examples/nats-transport/demo.ts            (starts a throwaway nats-server)
//   NATS_URL=nats://host:4222 npx tsx examples/nats-transport/demo.ts
// TRANSFERS, TASKS (concurrent senders), SHARDS and CAPACITY (commands per shard) size the run.
import { runAccountsDemo } from './accounts-demo.ts';
import { startNatsServer } from './nats-server.ts';

const server = await startNatsServer();
try {
  const summary = await runAccountsDemo({
    servers: server.url,
    transfers: Number(process.env.TRANSFERS ?? 5_000),
    tasks: Number(process.env.TASKS ?? 64),
    shards: Number(process.env.SHARDS ?? 4),
    capacity: Number(process.env.CAPACITY ?? 64),
  });
  console.log(`money before ${summary.moneyBefore}, after ${summary.moneyAfter}; ${summary.negativeBalances} accounts below zero`);
  console.log(`${summary.transfersApplied} transfers applied, ${summary.transfersRejected} rejected; ${summary.commandsPerSec} commands/s`);
  console.log(`queue depth high-water ${summary.maxDepth} of capacity ${summary.capacity}; ${summary.shardsGained} shard grants`);
  console.log(JSON.stringify(summary));
} finally {
  await server.stop();
}
