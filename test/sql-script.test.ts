// runSqlScript against a real PostgreSQL: statements split as psql would and sent in batches,
// inside the caller's transaction, with the failing statement named.
import { Readable } from 'node:stream';
import type { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runSqlScript } from '../activities/schema/run-sql-script';
import type { TransactionSplit } from '../activities/schema/transaction-split';
import { startPostgres, type PgCluster } from '../launch/postgres';

let pg: PgCluster;
let client: Client;

beforeAll(async () => {
  pg = await startPostgres({ name: 'sql-script' });
  client = await pg.connect();
});

afterAll(async () => {
  await client?.end();
  await pg?.stop();
});

/** The script as a stream of byte chunks of `size`, cutting multi-byte characters too. */
function chunks(script: string, size: number): Readable {
  const bytes = Buffer.from(script, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return Readable.from(parts);
}

const SCRIPT = `
\\restrict k1
SET check_function_bodies = false;
CREATE SCHEMA "s;1";
CREATE TABLE "s;1".t (id integer PRIMARY KEY, v text DEFAULT 'a;b', "ü;" text);
CREATE FUNCTION "s;1".atomic(a integer) RETURNS integer LANGUAGE sql
BEGIN ATOMIC
  SELECT CASE WHEN a > 0 THEN a ELSE 0 END;
END;
CREATE FUNCTION "s;1".touch() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN NEW.v := 'x;y'; RETURN NEW; END $body$;
CREATE TABLE "s;1".log (id integer);
CREATE RULE r AS ON INSERT TO "s;1".t DO ALSO (INSERT INTO "s;1".log VALUES (new.id); INSERT INTO "s;1".log VALUES (-new.id));
COMMENT ON TABLE "s;1".t IS E'it\\'s; ünïcode';
\\unrestrict k1
`;

describe('runSqlScript', () => {
  it('runs a script in batches, inside the caller transaction', async () => {
    await client.query('BEGIN');
    const sent = vi.spyOn(client, 'query');
    const ran = await runSqlScript(client, chunks(SCRIPT, 7), { batchChars: 1 << 20, batchStatements: 3 });
    // 8 statements, 3 per round trip: 3 queries, not 8 (psql's way) nor 1.
    expect(sent).toHaveBeenCalledTimes(3);
    sent.mockRestore();
    await client.query(`INSERT INTO "s;1".t (id) VALUES (5)`);
    await client.query('COMMIT');
    expect(ran).toBe(8);
    expect((await client.query(`SELECT "s;1".atomic(3) AS a, "s;1".atomic(-1) AS b`)).rows).toEqual([{ a: 3, b: 0 }]);
    expect((await client.query(`SELECT array_agg(id ORDER BY id) AS ids FROM "s;1".log`)).rows).toEqual([{ ids: [-5, 5] }]);
    expect((await client.query(`SELECT obj_description('"s;1".t'::regclass) AS c, (SELECT v FROM "s;1".t) AS v`)).rows).toEqual([{ c: "it's; ünïcode", v: 'a;b' }]);
  });

  it('names the statement that failed, and the transaction leaves nothing', async () => {
    const script = `CREATE TABLE ok1 (a int);\nCREATE TABLE ok2 (a int);\nCREATE TABLE bad (a no_such_type);\nCREATE TABLE ok3 (a int);\n`;
    await client.query('BEGIN');
    const err = await runSqlScript(client, chunks(script, 1000)).catch((e: Error) => e);
    await client.query('ROLLBACK');
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('type "no_such_type" does not exist, in: CREATE TABLE bad (a no_such_type);');
    expect((await client.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname IN ('ok1', 'ok2', 'ok3', 'bad')`)).rows).toEqual([{ n: 0 }]);
  });

  it('names a statement with a syntax error even when it is not the first of its batch', async () => {
    const script = `SELECT 1;\nSELECT 2;\nSELEC 3;\nSELECT 4;\n`;
    const err = await runSqlScript(client, chunks(script, 1000)).catch((e: Error) => e);
    expect((err as Error).message).toBe('syntax error at or near "SELEC", in: SELEC 3;');
  });

  describe('with a lock budget (a schema too big for one transaction)', () => {
    /** 12 tables (3 locks each) and a comment each, with session settings as pg_restore writes them. */
    const script = (failAt?: number) =>
      `SET client_min_messages = warning;\nSELECT pg_catalog.set_config('search_path', '', false);\n` +
      Array.from({ length: 12 }, (_, i) =>
        `--\n-- Name: split_${i}; Type: TABLE\n--\nCREATE TABLE public.split_${i} (a ${i === failAt ? 'no_such_type' : 'int'});\nCOMMENT ON TABLE public.split_${i} IS 'n${i}';\n`,
      ).join('');
    const progress: number[] = [];
    const split = (alreadyCommitted: number): TransactionSplit => ({
      lockBudget: 10, // two tables and their comments (3 + 1 + 3 + 1); a third table would pass it
      alreadyCommitted,
      progressSql: (n) => `INSERT INTO public.split_progress VALUES (${n})`,
    });
    const tables = async () => (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'split\\_%' AND relkind = 'r'`)).rows[0].n;
    const committed = async () => Number((await client.query<{ n: string | null }>('SELECT max(n) AS n FROM public.split_progress')).rows[0].n ?? 0);

    it('commits before the budget is passed, keeps what committed when a statement fails, and a retry goes on from there', async () => {
      await client.query('CREATE TABLE public.split_progress (n int)');
      // First attempt: the 8th table fails; what came before it in earlier transactions stays.
      await client.query('BEGIN');
      const err = await runSqlScript(client, chunks(script(7), 64), undefined, split(0)).catch((e: Error) => e);
      await client.query('ROLLBACK');
      expect((err as Error).message).toContain('type "no_such_type" does not exist, in: CREATE TABLE public.split_7');
      // Transactions of 4 statements: three committed (12 statements, split_0..5), the fourth failed.
      expect(await committed()).toBe(12);
      expect(await tables()).toBe(6 + 1); // split_0..5 and split_progress
      progress.push(await committed());

      // The retry: the committed statements are skipped, session settings run again (on a
      // new connection they would be gone: reset here), the rest run to the end.
      await client.query('RESET search_path');
      await client.query('BEGIN');
      const ran = await runSqlScript(client, chunks(script(), 64), undefined, split(progress[0]));
      await client.query('COMMIT');
      expect(ran).toBe(2 + 24 - 12);
      expect(await tables()).toBe(12 + 1);
      const { rows } = await client.query<{ c: string }>(`SELECT obj_description('public.split_11'::regclass) AS c`);
      expect(rows).toEqual([{ c: 'n11' }]);
      expect((await client.query('SHOW search_path')).rows[0].search_path).toBe('');
    });
  });
});

