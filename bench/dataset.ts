/**
 * The benchmark dataset of ../shared/guides/benchmarks.md, built into a source cluster:
 *   bench: pgbench scale 50 with foreign keys, a 1M-row wide table, a 500k-row table without a
 *          key (25k exact duplicates, REPLICA IDENTITY FULL), 200 small tables, views, an enum
 *          and a domain (about 1.4 GB);
 *   tiny:  2,000 tables of 10 rows;
 *   many:  10,000 tables of 10 rows (more than the default lock table holds in one transaction).
 * `quick` shrinks everything so the whole benchmark can be smoke-tested in a few minutes.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { PgCluster } from '../launch/postgres';
import { PG_BIN } from '../launch/postgres';

const run = promisify(execFile);

export interface DatasetSize {
  pgbenchScale: number;
  wideRows: number;
  nokeyRows: number;
  smallTables: number;
  tinyTables: number;
  manyTables: number;
}

export const FULL_SIZE: DatasetSize = { pgbenchScale: 50, wideRows: 1_000_000, nokeyRows: 500_000, smallTables: 200, tinyTables: 2_000, manyTables: 10_000 };
export const QUICK_SIZE: DatasetSize = { pgbenchScale: 2, wideRows: 50_000, nokeyRows: 25_000, smallTables: 20, tinyTables: 200, manyTables: 1_000 };

export async function buildBigDatabase(source: PgCluster, db: string, size: DatasetSize): Promise<void> {
  await source.createDatabase(db);
  await run(join(PG_BIN, 'pgbench'), ['-i', '-I', 'dtgvpf', '-s', String(size.pgbenchScale), '-q', '-h', source.host, '-p', String(source.port), '-U', 'postgres', db], {
    env: { ...process.env, PGPASSWORD: source.password ?? '' },
    maxBuffer: 64 * 1024 * 1024,
  });
  const duplicates = Math.floor(size.nokeyRows / 20);
  await source.query(
    `
    CREATE TYPE mood AS ENUM ('low', 'mid', 'high');
    CREATE DOMAIN amount AS numeric(12,2) CHECK (VALUE >= 0);
    CREATE TABLE wide (
      id bigint PRIMARY KEY, title text NOT NULL, doc jsonb, price amount, created timestamptz NOT NULL,
      updated timestamptz, counters int[], blob bytea, maybe text, feeling mood
    );
    INSERT INTO wide
    SELECT g, substr(repeat(md5(g::text), 4), 1, 5 + g % 120),
           jsonb_build_object('id', g, 'kind', g % 7, 'tags', jsonb_build_array('a' || g % 10, 'b' || g % 3)),
           (g % 100000) / 100.0, TIMESTAMPTZ '2024-01-01' + g * interval '1 second', TIMESTAMPTZ '2024-06-01' + g * interval '2 seconds',
           ARRAY[g % 10, g % 100, g % 1000, g % 10000], decode(substr(repeat(md5(g::text), 7), 1, 200), 'hex'),
           CASE WHEN g % 10 < 3 THEN NULL ELSE 'maybe ' || g END, (ARRAY['low', 'mid', 'high'])[1 + g % 3]::mood
      FROM generate_series(1, ${size.wideRows}) g;
    CREATE INDEX wide_created_idx ON wide (created);
    CREATE INDEX wide_lower_title_idx ON wide (lower(title));
    CREATE INDEX wide_feeling_price_idx ON wide (feeling, price);
    CREATE FUNCTION wide_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated := now(); RETURN NEW; END $$;
    CREATE TRIGGER wide_touch BEFORE UPDATE ON wide FOR EACH ROW EXECUTE FUNCTION wide_touch();

    CREATE TABLE nokey (account int, happened timestamptz, note text, amount numeric(10,2));
    INSERT INTO nokey SELECT g % 5000, TIMESTAMPTZ '2024-01-01' + g * interval '1 minute', 'event ' || md5(g::text), g % 1000 / 10.0
      FROM generate_series(1, ${size.nokeyRows - duplicates}) g;
    INSERT INTO nokey SELECT * FROM nokey LIMIT ${duplicates};
    ALTER TABLE nokey REPLICA IDENTITY FULL;

    DO $$
    BEGIN
      FOR i IN 1..${size.smallTables} LOOP
        EXECUTE format('CREATE TABLE small_%s (id serial PRIMARY KEY, name text, value numeric, at timestamptz)', i);
        EXECUTE format('INSERT INTO small_%s (name, value, at) SELECT md5(g::text), g * 1.5, TIMESTAMPTZ ''2024-01-01'' + g * interval ''1 hour'' FROM generate_series(1, 1000) g', i);
      END LOOP;
    END $$;

    CREATE VIEW account_balances AS SELECT bid, sum(abalance) AS balance FROM pgbench_accounts GROUP BY bid;
    CREATE VIEW recent_wide AS SELECT id, title, created FROM wide WHERE created > TIMESTAMPTZ '2024-01-05';
    CREATE VIEW nokey_summary AS SELECT account, count(*) FROM nokey GROUP BY account;
    `,
    db,
  );
  await source.query('VACUUM ANALYZE', db);
}

/** `tables` tables of 10 rows each (the tiny and many databases). */
export async function buildTinyDatabase(source: PgCluster, db: string, tables: number): Promise<void> {
  await source.createDatabase(db);
  await source.query(
    `DO $$
     BEGIN
       FOR i IN 1..${tables} LOOP
         EXECUTE format('CREATE TABLE tiny_%s (id serial PRIMARY KEY, v text)', i);
         EXECUTE format('INSERT INTO tiny_%s (v) SELECT md5(g::text) FROM generate_series(1, 10) g', i);
         -- each CREATE holds a lock until commit: commit in batches to stay within the lock table
         IF i % 200 = 0 THEN COMMIT; END IF;
       END LOOP;
     END $$;`,
    db,
  );
  await source.query('VACUUM ANALYZE', db);
}

/** Bytes of table data (heap + TOAST, no indexes), for MB/s. */
export async function tableDataBytes(source: PgCluster, db: string): Promise<number> {
  const [row] = await source.query<{ bytes: string }>(
    `SELECT sum(pg_table_size(c.oid))::bigint AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
    db,
  );
  return Number(row.bytes);
}
