import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PostgresStateStore } from './postgres-store.ts';

describe('PostgreSQL store options', () => {
  it('reports every wrong field at once, with its path, what was expected and what was got', () => {
    expect(() => new PostgresStateStore({ pool: 1, domain: '', schema: 'My-Schema', dedupeWindow: 0, extra: 1 } as never)).toThrow(
      expect.objectContaining({
        code: 'INVALID_CONFIG',
        issues: [
          'postgres.pool: expected a pg Pool',
          expect.stringMatching(/^postgres\.domain: .*, got ""$/),
          'postgres.schema: expected a lower-case SQL identifier of at most 63 characters, got "My-Schema"',
          expect.stringMatching(/^postgres\.dedupeWindow: .*, got 0$/),
          expect.stringMatching(/^postgres: Unrecognized key: "extra"$/),
        ],
      }),
    );
  });

  it('never prints the pool, whose options may hold a password', () => {
    const pool = new pg.Pool({ connectionString: 'postgres://user:secret-password@127.0.0.1:1/db' });
    let message = '';
    try {
      new PostgresStateStore({ pool, domain: 'a', surplus: true } as never);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('Unrecognized key: "surplus"');
    expect(message).not.toContain('secret-password');
    void pool.end();
  });

  it('names the server, without user or password, when it cannot be reached', async () => {
    await expect(PostgresStateStore.connect('postgres://user:secret-password@127.0.0.1:1/db', { domain: 'accounts' })).rejects.toMatchObject({
      code: 'CONNECTION',
      message: expect.stringMatching(/^postgres at postgres:\/\/127\.0\.0\.1:1\/db: expected a server that accepts the connection/),
    });
  });
});
