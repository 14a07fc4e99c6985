import type { Pool, PoolClient } from 'pg';

/**
 * Runs `work` in one transaction on a client of `pool`: committed when it resolves, rolled
 * back when it throws. A client whose connection failed is destroyed, not pooled again.
 */
export async function transaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}
