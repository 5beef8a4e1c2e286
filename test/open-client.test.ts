// openClient's session settings travel in the startup packet: they are in force from the first
// query, values with spaces and backslashes included. The quoting helpers beside it give back
// what they were given, whatever the server's string settings. A client closed in the background
// returns at once and its session still ends, its open transaction rolled back.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resolveConnection } from '../activities/credentials';
import { closeInBackground, closeQuietly, openClient, quoteIdent, quoteLiteral } from '../activities/db';
import { startPostgres, type PgCluster } from '../launch/postgres';

let pg: PgCluster;

beforeAll(async () => {
  pg = await startPostgres({ name: 'open-client' });
});

afterAll(async () => {
  await pg?.stop();
});

it('applies the settings it is given, and only those', async () => {
  const conn = resolveConnection({ host: pg.host, port: pg.port, database: 'postgres', user: 'postgres' }, {});
  const client = await openClient(conn, 'test', { jit: 'off', search_path: 'public, "x y\\z"' });
  const plain = await openClient(conn, 'test');
  try {
    const { rows } = await client.query<{ jit: string; path: string; app: string }>(
      "SELECT current_setting('jit') AS jit, current_setting('search_path') AS path, current_setting('application_name') AS app",
    );
    expect(rows[0]).toEqual({ jit: 'off', path: 'public, "x y\\z"', app: 'pgferry test' });
    expect((await plain.query<{ jit: string }>("SELECT current_setting('jit') AS jit")).rows[0].jit).toBe('on');
  } finally {
    await closeQuietly(client);
    await closeQuietly(plain);
  }
});

it('quotes names and literals so that the server reads back what was written, backslashes included', async () => {
  const conn = resolveConnection({ host: pg.host, port: pg.port, database: 'postgres', user: 'postgres' }, {});
  const client = await openClient(conn, 'test');
  const odd = `it's a "name" with \\ and \\' and ünïcode`;
  try {
    for (const conforming of ['on', 'off']) {
      await client.query(`SET standard_conforming_strings = ${conforming}`);
      const { rows } = await client.query<Record<string, unknown>>(`SELECT ${quoteLiteral(odd)} AS value, 1 AS ${quoteIdent(odd)}`);
      expect(rows[0].value).toBe(odd);
      expect(Object.keys(rows[0])).toEqual(['value', odd]);
    }
  } finally {
    await closeQuietly(client);
  }
});

it('closes a client in the background: the session ends and its open transaction is rolled back', async () => {
  const conn = resolveConnection({ host: pg.host, port: pg.port, database: 'postgres', user: 'postgres' }, {});
  const watcher = await openClient(conn, 'test');
  const client = await openClient(conn, 'test');
  try {
    await watcher.query('CREATE TABLE closed_in_background (id int)');
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await client.query('BEGIN');
    await client.query('INSERT INTO closed_in_background VALUES (1)');
    closeInBackground(client);
    closeInBackground(undefined); // nothing to close
    const gone = async () => (await watcher.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [rows[0].pid])).rowCount === 0;
    const deadline = Date.now() + 10_000;
    while (!(await gone()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await gone()).toBe(true);
    // The lock the insert took is released, and its row is not there.
    await watcher.query("SET lock_timeout = '2s'");
    await watcher.query('BEGIN');
    await watcher.query('LOCK TABLE closed_in_background IN ACCESS EXCLUSIVE MODE');
    expect((await watcher.query('SELECT * FROM closed_in_background')).rowCount).toBe(0);
    await watcher.query('COMMIT');
    // Closing a broken or already closed client again changes nothing and throws nothing.
    closeInBackground(client);
  } finally {
    await closeQuietly(watcher);
  }
});
