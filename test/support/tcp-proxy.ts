import { createConnection, createServer, type Socket } from 'node:net';

/** A TCP proxy on 127.0.0.1 in front of a server, that can lose a reply on purpose. */
export interface TcpProxy {
  readonly port: number;
  /**
   * Lets the next request through, swallows the first reply bytes the server sends back,
   * then cuts both connections: the request ran, and its client never hears of it. Resolves
   * once the cut is made.
   */
  loseNextReply(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy from a free port of 127.0.0.1 to `targetPort` on 127.0.0.1. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let armed: (() => void) | undefined;
  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const cut = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (armed === undefined) {
        client.write(chunk);
        return;
      }
      const done = armed;
      armed = undefined;
      cut();
      done();
    });
    client.on('error', cut).on('close', cut);
    upstream.on('error', cut).on('close', cut);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('proxy: no port');
  return {
    port: address.port,
    loseNextReply: () => new Promise<void>((resolve) => {
      armed = resolve;
    }),
    async close() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
