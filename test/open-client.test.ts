// openClient's session settings travel in the startup packet: they are in force from the first
// query, values with spaces and backslashes included. The quoting helpers beside it give back
// what they were given, whatever the server's string settings.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resolveConnection } from '../activities/credentials';
import { closeQuietly, openClient, quoteIdent, quoteLiteral } from '../activities/db';
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
