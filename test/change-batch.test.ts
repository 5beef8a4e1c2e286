// ChangeBatch against a real PostgreSQL: decoded changes (built by hand, as the pgoutput
// decoder would give them) applied in one target transaction with
// session_replication_role = replica, as the change stream does.
import { createHash } from 'node:crypto';
import type { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangeBatch } from '../activities/stream/change-batch';
import { UNCHANGED_TOAST, type DeleteMessage, type InsertMessage, type TupleValue, type UpdateMessage } from '../activities/stream/pgoutput-types';
import { keyOrderOf, readTargetColumns, type ApplyTable } from '../activities/stream/target-table';
import type { Operation } from '../common/spec';
import { startPostgres, type PgCluster } from '../launch/postgres';
import { RawRowChange } from '../activities/stream/raw-row-change';
import { streamed } from './support/streamed-change';
import { TimeArrayBuilder, type TimeForm } from '../activities/stream/binary-time-array';

const U: typeof UNCHANGED_TOAST = UNCHANGED_TOAST;
const ALL: ReadonlySet<Operation> = new Set(['insert', 'update', 'delete', 'truncate']);

let pg: PgCluster;
let client: Client;

beforeAll(async () => {
  pg = await startPostgres({ name: 'apply' });
  client = await pg.connect();
  await client.query(`SET TIME ZONE 'UTC'`);
});

afterAll(async () => {
  await client?.end();
  await pg?.stop();
});

async function sql<T = any>(text: string, params?: unknown[]): Promise<T[]> {
  return (await client.query(text, params)).rows as T[];
}

/** One target transaction, as the stream applies a batch. */
async function applyBatch(batch: ChangeBatch, via: Pick<Client, 'query'> = client): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SET LOCAL session_replication_role = replica');
    await batch.apply(via);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}

async function table(schema: string, name: string, key: string[], operations = ALL): Promise<ApplyTable> {
  const columns = await readTargetColumns(client, schema, name);
  const keyColumns = key.map((k) => columns.findIndex((c) => c.name === k));
  if (keyColumns.includes(-1)) throw new Error(`no key column ${key.join(',')} in ${name}`);
  const keyOrder = keyOrderOf(columns, columns, keyColumns);
  return { schema, name, columns, keyColumns, operations, partitioned: columns.partitioned, ...(keyOrder ? { keyOrder } : {}) };
}

/** A tuple in the table's column order; columns not given are NULL. */
function tuple(t: ApplyTable, values: Record<string, TupleValue>): TupleValue[] {
  return t.columns.map((c) => (c.name in values ? values[c.name] : null));
}

const ins = (t: ApplyTable, v: Record<string, TupleValue>): InsertMessage => ({ tag: 'insert', relationId: 1, newTuple: tuple(t, v) });
function upd(t: ApplyTable, v: Record<string, TupleValue>, old?: Record<string, TupleValue>, oldKind: 'key' | 'old' = 'key'): UpdateMessage {
  return { tag: 'update', relationId: 1, newTuple: tuple(t, v), ...(old ? { oldTuple: tuple(t, old), oldKind } : {}) };
}
function del(t: ApplyTable, old: Record<string, TupleValue>, oldKind: 'key' | 'old' = 'key'): DeleteMessage {
  return { tag: 'delete', relationId: 1, oldKind, oldTuple: tuple(t, old) };
}

/**
 * Applies `rows` as inserts into a table (every other one as the stream receives it: bytes, not
 * decoded) and returns the element types of the array parameters the statement bound (0: not an
 * array), i.e. the form each column travelled in.
 */
async function insertRows(name: string, key: string[], rows: Array<Record<string, TupleValue>>): Promise<number[]> {
  const t = await table('public', name, key);
  const batch = new ChangeBatch();
  rows.forEach((r, n) => batch.add(t, n % 2 ? streamed(ins(t, r)) : ins(t, r)));
  const bound: number[][] = [];
  const recording = {
    query: ((config: { values?: unknown[] }, ...rest: unknown[]) => {
      if (config.values?.length) bound.push(config.values.map((v) => (Buffer.isBuffer(v) ? v.readUInt32BE(8) : 0)));
      return (client.query as (...a: unknown[]) => unknown)(config, ...rest);
    }) as Client['query'],
  };
  await applyBatch(batch, recording);
  return bound[0];
}

/** A client.query that counts the statements sent through it. */
function counting(c: Client): Pick<Client, 'query'> & { statements: number } {
  const counter = {
    statements: 0,
    query: ((...args: unknown[]) => {
      counter.statements += 1;
      return (c.query as (...a: unknown[]) => unknown).apply(c, args);
    }) as Client['query'],
  };
  return counter;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe('readTargetColumns', () => {
  it('lists non-generated columns with target types, equality and identity; names a missing table', async () => {
    await sql(`CREATE TYPE rtc_mood AS ENUM ('a', 'b');
               CREATE DOMAIN rtc_dom AS int CHECK (VALUE > 0);
               CREATE TABLE rtc (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v varchar(10), j json, jb jsonb, p point, x xml,
                                 m rtc_mood, d rtc_dom, ai int[], pa point[], g int GENERATED ALWAYS AS (id * 2) STORED, dropped int, n numeric(40, 2));
               ALTER TABLE rtc DROP COLUMN dropped`);
    const columns = await readTargetColumns(client, 'public', 'rtc');
    expect(columns.map((c) => [c.name, c.type, c.equality])).toEqual([
      ['id', 'integer', true],
      ['v', 'character varying(10)', true],
      ['j', 'json', false],
      ['jb', 'jsonb', true],
      ['p', 'point', false],
      ['x', 'xml', false],
      ['m', 'rtc_mood', true],
      ['d', 'rtc_dom', true],
      ['ai', 'integer[]', true],
      ['pa', 'point[]', false],
      ['n', 'numeric(40,2)', true],
    ]);
    expect(columns[0].identity).toBe('always');
    expect(columns.generated).toEqual(['g']);
    expect(columns.partitioned).toBe(false);
    await expect(readTargetColumns(client, 'public', 'nope')).rejects.toThrow('table "public"."nope" does not exist in the target');
  });

  it('lets upserts go in key order only where the order of rows cannot matter', async () => {
    await sql(`CREATE TABLE ko_int (id bigint PRIMARY KEY, v text);
               CREATE TABLE ko_uuid (id uuid PRIMARY KEY, v text);
               CREATE TABLE ko_text (id text PRIMARY KEY, v text);
               CREATE TABLE ko_pair (a int, b int, PRIMARY KEY (a, b));
               CREATE TABLE ko_unique (id int PRIMARY KEY, code text UNIQUE);
               CREATE TABLE ko_exclude (id int PRIMARY KEY, c circle, EXCLUDE USING gist (c WITH &&));
               CREATE TABLE ko_always (id int PRIMARY KEY, v text);
               CREATE TABLE ko_origin (id int PRIMARY KEY, v text);
               CREATE TABLE ko_parts (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
               CREATE TABLE ko_parts_1 PARTITION OF ko_parts FOR VALUES FROM (0) TO (100);
               CREATE FUNCTION ko_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
               CREATE TRIGGER ko_t BEFORE INSERT ON ko_always FOR EACH ROW EXECUTE FUNCTION ko_noop();
               ALTER TABLE ko_always ENABLE ALWAYS TRIGGER ko_t;
               CREATE TRIGGER ko_t BEFORE INSERT ON ko_origin FOR EACH ROW EXECUTE FUNCTION ko_noop();`);
    const orderOf = async (name: string, key = ['id']) => (await table('public', name, key)).keyOrder ?? 'none';
    expect(await orderOf('ko_int')).toBe('number');
    expect(await orderOf('ko_uuid')).toBe('text');
    expect(await orderOf('ko_text')).toBe('none'); // a collation's order is not JS's
    expect(await orderOf('ko_pair', ['a', 'b'])).toBe('none');
    expect(await orderOf('ko_unique')).toBe('none');
    expect(await orderOf('ko_exclude')).toBe('none');
    expect(await orderOf('ko_always')).toBe('none'); // fires during the apply
    expect(await orderOf('ko_origin')).toBe('number'); // does not (session_replication_role = replica)
    expect(await orderOf('ko_parts')).toBe('none'); // partitions may have unique indexes of their own
    expect((await readTargetColumns(client, 'public', 'ko_unique')).reorderable).toBe(false);
  });
});

describe('upserts in key order', () => {
  it('writes every row of a shuffled batch, integer and uuid keys alike', async () => {
    await sql('CREATE TABLE kos (id int PRIMARY KEY, v text); CREATE TABLE kou (id uuid PRIMARY KEY, v text)');
    await sql("INSERT INTO kos SELECT g, 'old' FROM generate_series(1, 500) g");
    const [kos, kou] = [await table('public', 'kos', ['id']), await table('public', 'kou', ['id'])];
    expect([kos.keyOrder, kou.keyOrder]).toEqual(['number', 'text']);
    const ids = Array.from({ length: 1000 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
    const uuids = ids.map((i) => md5(String(i)).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5'));
    const batch = new ChangeBatch();
    ids.forEach((id, i) => {
      batch.add(kos, ins(kos, { id: String(id), v: `new ${id}` }));
      batch.add(kou, ins(kou, { id: uuids[i], v: `new ${id}` }));
    });
    await applyBatch(batch);
    expect(await sql("SELECT count(*)::int AS n, count(*) FILTER (WHERE v = 'new ' || id)::int AS right FROM kos")).toEqual([{ n: 1000, right: 1000 }]);
    expect(await sql("SELECT count(*)::int AS n, count(DISTINCT v)::int AS distinct FROM kou WHERE v LIKE 'new %'")).toEqual([{ n: 1000, distinct: 1000 }]);
    // The empty table took its rows in the order they came: the uuids' order, not the batch's.
    const stored = (await sql<{ id: string }>('SELECT id::text FROM kou ORDER BY ctid')).map((r) => r.id);
    expect(stored).toEqual([...uuids].sort());
  });
});

describe('tables with a key', () => {
  const BIG = Array.from({ length: 40_000 }, (_, i) => md5(String(i))).join(''); // 1.28 MB, incompressible
  let kv: ApplyTable;

  beforeAll(async () => {
    await sql('CREATE TABLE kv (id int PRIMARY KEY, v text, big text)');
    kv = await table('public', 'kv', ['id']);
  });

  it('nets insert → update → delete of one key to nothing', async () => {
    await sql(`INSERT INTO kv VALUES (2, 'other', NULL)`);
    const batch = new ChangeBatch();
    batch.add(kv, ins(kv, { id: '1', v: 'a' }));
    batch.add(kv, upd(kv, { id: '1', v: 'b' }));
    batch.add(kv, del(kv, { id: '1' }));
    await applyBatch(batch);
    expect(await sql('SELECT id, v FROM kv WHERE id IN (1, 2) ORDER BY id')).toEqual([{ id: 2, v: 'other' }]);
    expect(batch.isEmpty).toBe(true);
    expect(batch.counts()).toEqual([{ schema: 'public', name: 'kv', inserts: 1, updates: 1, deletes: 1, truncates: 0 }]);
    batch.add(kv, del(kv, { id: '1' })); // the next batch starts its own counts
    expect(batch.counts()).toEqual([{ schema: 'public', name: 'kv', inserts: 0, updates: 0, deletes: 1, truncates: 0 }]);
    batch.clear();
    expect(batch.isEmpty).toBe(true);
  });

  it('deletes then re-inserts a key', async () => {
    await sql(`INSERT INTO kv VALUES (3, 'old', 'old big')`);
    const batch = new ChangeBatch();
    batch.add(kv, del(kv, { id: '3' }));
    batch.add(kv, ins(kv, { id: '3', v: 'new' }));
    await applyBatch(batch);
    expect(await sql('SELECT v, big FROM kv WHERE id = 3')).toEqual([{ v: 'new', big: null }]);
  });

  it('keeps the target value of an unchanged TOASTed column, never writing NULL', async () => {
    await sql('INSERT INTO kv VALUES (10, $1, $2)', ['v', BIG]);
    const batch = new ChangeBatch();
    batch.add(kv, upd(kv, { id: '10', v: 'changed', big: U }));
    batch.add(kv, upd(kv, { id: '10', v: 'changed again', big: U }));
    await applyBatch(batch);
    const [row] = await sql(`SELECT v, md5(big) AS big, pg_column_size(big) > 100000 AS toasted FROM kv WHERE id = 10`);
    expect(row).toEqual({ v: 'changed again', big: md5(BIG), toasted: true });
  });

  it('merges a partial update into a full row of the same batch', async () => {
    const batch = new ChangeBatch();
    batch.add(kv, ins(kv, { id: '11', v: 'a', big: 'kept' }));
    batch.add(kv, upd(kv, { id: '11', v: 'b', big: U }));
    await applyBatch(batch);
    expect(await sql('SELECT v, big FROM kv WHERE id = 11')).toEqual([{ v: 'b', big: 'kept' }]);
  });

  it('moves a row whose key changed, with a full new row', async () => {
    await sql(`INSERT INTO kv VALUES (20, 'x', 'bx')`);
    const batch = new ChangeBatch();
    batch.add(kv, upd(kv, { id: '21', v: 'y', big: 'by' }, { id: '20' }));
    await applyBatch(batch);
    expect(await sql('SELECT id, v, big FROM kv WHERE id IN (20, 21)')).toEqual([{ id: 21, v: 'y', big: 'by' }]);
  });

  it('moves a row whose key changed with a partial new row, in order with the rest', async () => {
    await sql('INSERT INTO kv VALUES (30, $1, $2)', ['x', BIG]);
    const batch = new ChangeBatch();
    batch.add(kv, ins(kv, { id: '31', v: 'n' }));
    batch.add(kv, upd(kv, { id: '30', v: 'before', big: U }));
    batch.add(kv, upd(kv, { id: '32', v: 'moved', big: U }, { id: '30' }));
    batch.add(kv, upd(kv, { id: '32', v: 'after', big: U }));
    await applyBatch(batch);
    const rows = await sql(`SELECT id, v, md5(big) AS big FROM kv WHERE id BETWEEN 30 AND 32 ORDER BY id`);
    expect(rows).toEqual([
      { id: 31, v: 'n', big: null },
      { id: 32, v: 'after', big: md5(BIG) },
    ]);
  });

  it('fails on a partial update of a missing row, naming the table and the count but no value', async () => {
    const batch = new ChangeBatch();
    batch.add(kv, upd(kv, { id: '424242', v: 'SECRET-VALUE', big: U }));
    batch.add(kv, upd(kv, { id: '10', v: 'SECRET-VALUE-2', big: U }));
    const err = await applyBatch(batch).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('the target diverged from the source: 1 of 2 row(s) to update in "public"."kv" was not found');
    expect((err as Error).message).not.toMatch(/SECRET|424242/);
    expect(batch.isEmpty).toBe(false); // kept for the caller, who rolled back
    expect(await sql('SELECT v FROM kv WHERE id = 10')).toEqual([{ v: 'changed again' }]);
  });

  it('keeps the value PostgreSQL quotes in a data error out of the message', async () => {
    await sql('CREATE TABLE kd (id int PRIMARY KEY, n numeric)');
    const kd = await table('public', 'kd', ['id']);
    const batch = new ChangeBatch();
    batch.add(kd, ins(kd, { id: '1', n: 'SECRET-not-a-number' }));
    const err = (await applyBatch(batch).catch((e: Error) => e)) as Error & { code?: string };
    expect(err.message).toBe('upsert in "public"."kd" (1 row(s)) failed: invalid input syntax for type numeric: "…"');
    expect(err.code).toBe('22P02');
  });

  it('refuses a value the worker binds in binary as the target would, naming the table, quoting nothing', async () => {
    await sql('CREATE TABLE kb (id int PRIMARY KEY, d date)');
    const kb = await table('public', 'kb', ['id']);
    for (const [values, message, code] of [
      [{ id: '1', d: 'SECRET-not-a-date' }, "upsert in \"public\".\"kb\" (1 row(s)) failed: a value for a date column is not in the ISO form pgferry's sessions print (17 characters)", '22007'],
      [{ id: '99999999999', d: null }, 'upsert in "public"."kb" (1 row(s)) failed: a value for an int4 column is out of its range', '22003'],
    ] as const) {
      const batch = new ChangeBatch();
      batch.add(kb, ins(kb, values));
      const err = (await applyBatch(batch).catch((e: Error) => e)) as Error & { code?: string };
      expect(err.message).toBe(message);
      expect(err.code).toBe(code);
    }
    expect(await sql('SELECT count(*)::int AS n FROM kb')).toEqual([{ n: 0 }]);
  });
});

describe('other unique constraints', () => {
  it('replays the batch in source order when the netted rows collide on another unique constraint', async () => {
    await sql('CREATE TABLE pos (id int PRIMARY KEY, p int UNIQUE); INSERT INTO pos VALUES (1, 1), (2, 2)');
    const t = await table('public', 'pos', ['id']);
    const batch = new ChangeBatch();
    batch.add(t, upd(t, { id: '1', p: '3' })); // a swap through a temporary value
    batch.add(t, upd(t, { id: '2', p: '1' }));
    batch.add(t, upd(t, { id: '1', p: '2' }));
    const counter = counting(client);
    await applyBatch(batch, counter);
    expect(await sql('SELECT id, p FROM pos ORDER BY id')).toEqual([
      { id: 1, p: 2 },
      { id: 2, p: 1 },
    ]);
    // SAVEPOINT, upsert (fails), RELEASE (queued with it, fails too), ROLLBACK TO, one upsert per change, RELEASE
    expect(counter.statements).toBe(8);
    expect(batch.isEmpty).toBe(true);
  });
});

describe('queued statements', () => {
  it('sends a batch\'s savepoint, statements and release together, without waiting for each answer', async () => {
    await sql('CREATE TABLE q1 (id int PRIMARY KEY, v text); CREATE TABLE q2 (id int PRIMARY KEY, v text)');
    const [q1, q2] = [await table('public', 'q1', ['id']), await table('public', 'q2', ['id'])];
    const batch = new ChangeBatch();
    batch.add(q1, ins(q1, { id: '1', v: 'a' }));
    batch.add(q2, ins(q2, { id: '2', v: 'b' }));
    let answered = 0;
    const sentAfter: number[] = []; // answers received when each statement was sent
    const tracking = {
      query: ((...args: unknown[]) => {
        sentAfter.push(answered);
        return ((client.query as (...a: unknown[]) => Promise<unknown>).apply(client, args)).finally(() => (answered += 1));
      }) as Client['query'],
    };
    await applyBatch(batch, tracking);
    expect(sentAfter).toEqual([0, 0, 0, 0]); // SAVEPOINT, upsert q1, upsert q2, RELEASE
    expect(await sql('SELECT (SELECT v FROM q1) AS a, (SELECT v FROM q2) AS b')).toEqual([{ a: 'a', b: 'b' }]);
  });
});

describe('tables without a key (REPLICA IDENTITY FULL)', () => {
  it('deletes and updates exactly one of several duplicate rows', async () => {
    await sql(`CREATE TABLE dup (a int, b text, c text);
               INSERT INTO dup VALUES (1, 'x', NULL), (1, 'x', NULL), (1, 'x', NULL), (2, 'y', 'c')`);
    const dup = await table('public', 'dup', []);
    const batch = new ChangeBatch();
    batch.add(dup, del(dup, { a: '1', b: 'x' }, 'old'));
    batch.add(dup, upd(dup, { a: '1', b: 'z' }, { a: '1', b: 'x' }, 'old'));
    batch.add(dup, ins(dup, { a: '5', b: 'q' }));
    batch.add(dup, ins(dup, { a: '5', b: 'q' }));
    batch.add(dup, del(dup, { a: '5', b: 'q' }, 'old'));
    await applyBatch(batch);
    const rows = await sql(`SELECT a, b, c, count(*)::int AS n FROM dup GROUP BY a, b, c ORDER BY a, b`);
    expect(rows).toEqual([
      { a: 1, b: 'x', c: null, n: 1 },
      { a: 1, b: 'z', c: null, n: 1 },
      { a: 2, b: 'y', c: 'c', n: 1 },
      { a: 5, b: 'q', c: null, n: 1 },
    ]);
  });

  it('matches jsonb, json, point and xml columns', async () => {
    await sql('CREATE TABLE geo (id int, doc jsonb, j json, p point, x xml)');
    const geo = await table('public', 'geo', []);
    const row1 = { id: '1', doc: '{"a": [1, 2]}', j: '{"b":  1}', p: '(1,2)', x: '<a>1</a>' };
    const row2 = { id: '2', doc: '{"c": null}', j: '[]', p: '(-1.5,0.25)', x: '<b/>' };
    const first = new ChangeBatch();
    first.add(geo, ins(geo, row1));
    first.add(geo, ins(geo, row2));
    await applyBatch(first);
    const second = new ChangeBatch();
    second.add(geo, upd(geo, { ...row1, doc: '{"a": 3}', p: '(3,4)' }, row1, 'old'));
    second.add(geo, del(geo, row2, 'old'));
    await applyBatch(second);
    expect(await sql('SELECT id, doc::text, j::text, p::text, x::text FROM geo')).toEqual([{ id: 1, doc: '{"a": 3}', j: '{"b":  1}', p: '(3,4)', x: '<a>1</a>' }]);
  });

  it('fails when no row matches, naming the table but no value', async () => {
    const geo = await table('public', 'geo', []);
    const batch = new ChangeBatch();
    batch.add(geo, del(geo, { id: '99', doc: '{"secret": "SECRET"}' }, 'old'));
    await expect(applyBatch(batch)).rejects.toThrow(/^the target diverged from the source: 1 of 1 row\(s\) to delete in "public"."geo" was not found$/);
  });
});

describe('value fidelity', () => {
  const values = {
    Id: '1',
    Näme: 'ä "quoted", comma',
    Num: '123456789012345678901.123456789',
    Ts: '2024-02-29 23:59:59.123456+00',
    Bin: '\\x00ff10',
    Ints: '{1,NULL,3}',
    Texts: '{"a,b","c\\"d",NULL,"NULL","e\\\\f"}',
    Mood: 'Sad Face',
    Dom: '7',
    Uni: '日本語 ü',
    Nul: null,
  };
  const columns = `"Id" int, "Näme" text, "Num" numeric, "Ts" timestamptz, "Bin" bytea, "Ints" int[], "Texts" text[],
                   "Mood" "Mixed Schema"."Mood", "Dom" "Mixed Schema"."Positive", "Uni" text, "Nul" text`;
  const readBack = `SELECT "Id"::text, "Näme", "Num"::text, "Ts"::text, "Bin"::text, "Ints"::text, "Texts"::text, "Mood"::text, "Dom"::text, "Uni", "Nul"`;

  beforeAll(async () => {
    await sql(`CREATE SCHEMA "Mixed Schema";
               CREATE TYPE "Mixed Schema"."Mood" AS ENUM ('Happy', 'Sad Face');
               CREATE DOMAIN "Mixed Schema"."Positive" AS int CHECK (VALUE > 0);
               CREATE TABLE "Mixed Schema"."Types Ä" (${columns}, PRIMARY KEY ("Id", "Näme"));
               CREATE TABLE "Mixed Schema"."Types Full" (${columns})`);
  });

  it('round-trips numeric, timestamptz, bytea, arrays, enum, domain, NULL and non-ASCII through a keyed table', async () => {
    const t = await table('Mixed Schema', 'Types Ä', ['Id', 'Näme']);
    const batch = new ChangeBatch();
    batch.add(t, ins(t, values));
    batch.add(t, ins(t, { ...values, Id: '2' }));
    await applyBatch(batch);
    expect(await sql(`${readBack} FROM "Mixed Schema"."Types Ä" WHERE "Id" = 1`)).toEqual([values]);

    const update = new ChangeBatch();
    update.add(t, upd(t, { Id: '1', Näme: values.Näme, Num: '-0.000000000000000000000000000001', Ts: U, Bin: U, Ints: U, Texts: U, Mood: 'Happy', Dom: U, Uni: U, Nul: U }));
    update.add(t, del(t, { Id: '2', Näme: values.Näme }));
    await applyBatch(update);
    expect(await sql(`${readBack} FROM "Mixed Schema"."Types Ä"`)).toEqual([{ ...values, Num: '-0.000000000000000000000000000001', Mood: 'Happy' }]);
  });

  it('finds rows by every such value in a table without a key', async () => {
    const t = await table('Mixed Schema', 'Types Full', []);
    const batch = new ChangeBatch();
    batch.add(t, ins(t, values));
    batch.add(t, ins(t, values));
    batch.add(t, ins(t, { ...values, Id: '3' }));
    await applyBatch(batch);
    const change = new ChangeBatch();
    change.add(t, del(t, values, 'old'));
    change.add(t, upd(t, { ...values, Id: '4', Uni: U }, { ...values, Id: '3' }, 'old'));
    await applyBatch(change);
    expect(await sql(`${readBack} FROM "Mixed Schema"."Types Full" ORDER BY "Id"`)).toEqual([values, { ...values, Id: '4' }]);
  });
});

describe('rows kept as bytes (as the stream receives them)', () => {
  it('writes the same values as decoded rows, in a keyed table and in one without a key', async () => {
    await sql(`CREATE TABLE streamed_keyed (id int PRIMARY KEY, n numeric, t text, ts timestamptz, b bytea, a text[], nul text);
               CREATE TABLE streamed_keyless (id int, n numeric, t text, ts timestamptz, b bytea, a text[], nul text)`);
    const row = (id: number) => ({ id: String(id), n: '-1.5e-30', t: `日本語 ü "q", ${'x'.repeat(id * 100)}`, ts: '2024-02-29 23:59:59.123456+00', b: '\\x00ff', a: '{"a,b",NULL}', nul: null });
    const readBack = `SELECT id::text, n::text, t, ts::text, b::text, a::text, nul`;
    for (const name of ['streamed_keyed', 'streamed_keyless']) {
      const t = await table('public', name, name === 'streamed_keyed' ? ['id'] : []);
      const batch = new ChangeBatch();
      for (let id = 1; id <= 50; id += 1) {
        const change = streamed(ins(t, row(id)));
        expect(change).toBeInstanceOf(RawRowChange);
        batch.add(t, change);
      }
      if (name === 'streamed_keyed') batch.add(t, streamed(upd(t, { ...row(7), t: 'updated ☃' })));
      // The rows go as bytes: their row set is a finished binary array, not an array of decoded values.
      expect(batch.plan().some((s) => s.values.some((v) => Buffer.isBuffer(v)))).toBe(true);
      await applyBatch(batch);
      const expected = Array.from({ length: 50 }, (_, i) => ({ ...row(i + 1), n: '-0.0000000000000000000000000000015', ...(name === 'streamed_keyed' && i === 6 ? { t: 'updated ☃' } : {}) }));
      expect(await sql(`${readBack} FROM ${name} ORDER BY ${name}.id`)).toEqual(expected);
    }
  });
});

describe('integer columns (bound as integers, not text)', () => {
  it('writes every integer exactly, at the ends of each range, by key and without one, decoded and as bytes', async () => {
    await sql(`CREATE TABLE ints_keyed (k bigint PRIMARY KEY, s smallint, i integer, b bigint, d text);
               CREATE TABLE ints_keyless (k bigint, s smallint, i integer, b bigint, d text)`);
    const rows = [
      { k: '-9223372036854775808', s: '-32768', i: '-2147483648', b: '-9223372036854775808', d: 'min' },
      { k: '9223372036854775807', s: '32767', i: '2147483647', b: '9223372036854775807', d: 'max' },
      { k: '9007199254740993', s: '0', i: '-1', b: '-9007199254740993', d: 'past 2^53' },
      { k: '1', s: null, i: null, b: null, d: 'nulls' },
    ];
    const readBack = 'SELECT k::text, s::text, i::text, b::text, d';
    for (const name of ['ints_keyed', 'ints_keyless']) {
      // int8[], int2[], int4[], int8[], text[]
      expect(await insertRows(name, name === 'ints_keyed' ? ['k'] : [], rows)).toEqual([20, 21, 23, 20, 25]);
      expect(await sql(`${readBack} FROM ${name} ORDER BY d`)).toEqual([...rows].sort((a, b) => a.d.localeCompare(b.d)));
    }
    // Updates and deletes find rows by a bigint key beyond 2^53, a key change included.
    const t = await table('public', 'ints_keyed', ['k']);
    const change = new ChangeBatch();
    change.add(t, upd(t, { ...rows[2], i: '123' }));
    change.add(t, upd(t, { ...rows[0], k: '-9223372036854775807' }, { k: rows[0].k }));
    change.add(t, del(t, { k: rows[1].k }));
    await applyBatch(change);
    expect(await sql('SELECT k::text, i::text FROM ints_keyed ORDER BY k')).toEqual([
      { k: '-9223372036854775807', i: '-2147483648' },
      { k: '1', i: null },
      { k: '9007199254740993', i: '123' },
    ]);
  });
});

describe('date and time columns (bound in binary, not text)', () => {
  /** Random values over each type's whole range, as SQL, with the ends and calendar corners besides. */
  const GENERATED: Record<TimeForm, string> = {
    date: `SELECT date '2000-01-01' + (floor(random() * 2147483494)::bigint - 2451545)::int FROM generate_series(1, 2000)
           UNION ALL SELECT unnest('{4714-11-24 BC, 0001-01-01 BC, 0001-12-31 BC, 0001-01-01, 1582-10-15, 1900-02-28, 1900-03-01, 2000-02-29, 10000-01-01, 5874897-12-31, infinity, -infinity}'::date[])`,
    timestamp: `SELECT timestamp '2000-01-01' + make_interval(days => (floor(random() * 109000000) - 2451545)::int)
                  + interval '1 microsecond' * CASE i % 3 WHEN 0 THEN 0 WHEN 1 THEN floor(random() * 86400000) * 1000 ELSE floor(random() * 86400000000) END
                FROM generate_series(1, 2000) AS i
           UNION ALL SELECT unnest('{"4714-11-24 00:00:00 BC", "0001-12-31 23:59:59.999999 BC", "1999-12-31 23:59:59.999999", "2000-01-01 00:00:00.5", "294276-12-31 23:59:59.999999", infinity, -infinity}'::timestamp[])`,
    timestamptz: `SELECT (timestamp '2000-01-01' + make_interval(days => (floor(random() * 109000000) - 2451545)::int)
                  + interval '1 microsecond' * CASE i % 3 WHEN 0 THEN 0 WHEN 1 THEN floor(random() * 86400000) * 1000 ELSE floor(random() * 86400000000) END) AT TIME ZONE 'UTC'
                FROM generate_series(1, 2000) AS i
           UNION ALL SELECT unnest('{"4714-11-24 12:00:00+00 BC", "1800-06-01 12:00:00+00", "1930-06-01 12:00:00+00", "1970-06-01 12:00:00+00", "2026-07-01 12:00:00.000001+00", "294276-12-30 23:59:59.999999+00", infinity, -infinity}'::timestamptz[])`,
  };

  function built(form: TimeForm, texts: string[], asBytes: boolean): Buffer {
    const builder = new TimeArrayBuilder(form, texts.length);
    for (const text of texts) {
      if (!asBytes) builder.add(text);
      else {
        const bytes = Buffer.from(`#${text}#`, 'latin1'); // the value inside a frame
        builder.addBytes(bytes, 1, bytes.length - 2);
      }
    }
    return builder.finish();
  }

  it("reads every value the server prints, over each type's whole range and in any time zone, as the server reads its text", async () => {
    // Zones with offsets in minutes and in seconds (local mean times before 1900, Monrovia until 1972, Amsterdam until 1937).
    const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kathmandu', 'Africa/Monrovia', 'Europe/Amsterdam', 'Pacific/Chatham'];
    await sql(`SET DateStyle = 'ISO, DMY'`); // as every pgferry session (activities/db.ts)
    try {
      for (const form of ['date', 'timestamp', 'timestamptz'] as const) {
        for (const zone of form === 'timestamptz' ? zones : ['UTC']) {
          await sql(`SET TIME ZONE '${zone}'`);
          const texts = (await sql<{ v: string }>(`SELECT v::text AS v FROM (${GENERATED[form]}) AS g(v)`)).map((r) => r.v);
          if (zone === 'Africa/Monrovia') expect(texts.some((t) => /[+-]\d\d:\d\d:\d\d( BC)?$/.test(t))).toBe(true); // offsets with seconds were met
          for (const asBytes of [false, true]) {
            const [r] = await sql(
              `SELECT count(*)::int AS n, count(*) FILTER (WHERE a IS DISTINCT FROM b)::int AS differ FROM unnest($1::${form}[], $2::text[]::${form}[]) AS u(a, b)`,
              [built(form, texts, asBytes), texts],
            );
            expect(r, `${form} in ${zone}`).toEqual({ n: texts.length, differ: 0 });
          }
        }
      }
    } finally {
      await sql(`SET TIME ZONE 'UTC'; RESET DateStyle`);
    }
  });

  it('writes and finds rows by date and time values, precisions kept, by key and without one, decoded and as bytes', async () => {
    await sql(`CREATE TABLE times_keyed (k timestamptz PRIMARY KEY, d date, ts timestamp(3), tz timestamptz(0), note text);
               CREATE TABLE times_keyless (k timestamptz, d date, ts timestamp(3), tz timestamptz(0), note text)`);
    const rows = [
      { k: '2026-12-06 17:00:00.123456+00', d: '2026-12-06', ts: '2026-12-06 17:00:00.123', tz: '2026-12-06 17:00:01+00', note: 'a' },
      { k: '0044-03-15 12:00:00+00 BC', d: '0044-03-15 BC', ts: '0044-03-15 12:00:00 BC', tz: '0044-03-15 12:00:00+00 BC', note: 'b' },
      { k: '12026-01-01 00:00:00+00', d: 'infinity', ts: '-infinity', tz: 'infinity', note: 'c' },
      { k: '2026-06-01 00:00:00+00', d: null, ts: null, tz: null, note: 'd' },
    ];
    const readBack = 'SELECT k::text, d::text, ts::text, tz::text, note';
    for (const name of ['times_keyed', 'times_keyless']) {
      const key = name === 'times_keyed' ? ['k'] : [];
      const t = await table('public', name, key);
      expect(t.columns.map((c) => c.type)).toEqual(['timestamp with time zone', 'date', 'timestamp(3) without time zone', 'timestamp(0) with time zone', 'text']);
      // timestamptz[], date[], timestamp[], timestamptz[] (precisions and all), text[]
      expect(await insertRows(name, key, rows)).toEqual([1184, 1082, 1114, 1184, 25]);
      expect(await sql(`${readBack} FROM ${name} ORDER BY note`)).toEqual(rows);
    }
    // Updates and deletes find rows by a timestamptz key, given in another offset; a key changes.
    const t = await table('public', 'times_keyed', ['k']);
    const change = new ChangeBatch();
    change.add(t, upd(t, { ...rows[0], k: '2026-12-06 22:45:00.123456+05:45', note: 'a2' }));
    change.add(t, streamed(upd(t, { ...rows[1], k: '0044-03-15 12:00:01+00 BC' }, { k: rows[1].k })));
    change.add(t, del(t, { k: '12025-12-31 19:00:00-05' }));
    await applyBatch(change);
    expect(await sql('SELECT k::text, note FROM times_keyed ORDER BY k')).toEqual([
      { k: '0044-03-15 12:00:01+00 BC', note: 'b' },
      { k: '2026-06-01 00:00:00+00', note: 'd' },
      { k: '2026-12-06 17:00:00.123456+00', note: 'a2' },
    ]);
  });
});

describe('identity and generated columns', () => {
  it('inserts the source value of a GENERATED ALWAYS identity key and recomputes stored generated columns', async () => {
    await sql('CREATE TABLE ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, a int, g int GENERATED ALWAYS AS (a * 2) STORED)');
    const t = await table('public', 'ident', ['id']);
    expect(t.columns.map((c) => c.name)).toEqual(['id', 'a']);
    const batch = new ChangeBatch();
    batch.add(t, ins(t, { id: '100', a: '5' }));
    batch.add(t, ins(t, { id: '101', a: '1' }));
    await applyBatch(batch);
    const update = new ChangeBatch();
    update.add(t, upd(t, { id: '100', a: '6' }));
    update.add(t, upd(t, { id: '102', a: '7' }, { id: '101' }));
    await applyBatch(update);
    expect(await sql('SELECT id, a, g FROM ident ORDER BY id')).toEqual([
      { id: 100, a: 6, g: 12 },
      { id: 102, a: 7, g: 14 },
    ]);
  });

  it('takes the new identity value of a row deleted and inserted again', async () => {
    await sql(`CREATE TABLE seqd (k text PRIMARY KEY, s bigint GENERATED ALWAYS AS IDENTITY, v text); INSERT INTO seqd (k, v) VALUES ('a', 'old')`);
    const t = await table('public', 'seqd', ['k']);
    const batch = new ChangeBatch();
    batch.add(t, del(t, { k: 'a' }));
    batch.add(t, ins(t, { k: 'a', s: '42', v: 'new' }));
    await applyBatch(batch);
    const update = new ChangeBatch();
    update.add(t, upd(t, { k: 'a', s: '42', v: 'newer' }));
    await applyBatch(update);
    expect(await sql('SELECT k, s::int, v FROM seqd')).toEqual([{ k: 'a', s: 42, v: 'newer' }]);
  });
});

describe('truncate, operations and partitions', () => {
  it('applies a truncate between what came before and after it', async () => {
    await sql(`CREATE TABLE tr (id int PRIMARY KEY, v text); INSERT INTO tr VALUES (9, 'pre')`);
    const t = await table('public', 'tr', ['id']);
    const batch = new ChangeBatch();
    batch.add(t, ins(t, { id: '1', v: 'first' }));
    batch.truncate([t], true);
    batch.add(t, ins(t, { id: '2', v: 'second' }));
    await applyBatch(batch);
    expect(await sql('SELECT id, v FROM tr')).toEqual([{ id: 2, v: 'second' }]);
  });

  it('applies only the operations a table replicates', async () => {
    await sql(`CREATE TABLE only_ins (id int PRIMARY KEY, v text); INSERT INTO only_ins VALUES (1, 'a')`);
    const t = await table('public', 'only_ins', ['id'], new Set<Operation>(['insert']));
    const batch = new ChangeBatch();
    batch.add(t, upd(t, { id: '1', v: 'b' }));
    batch.add(t, del(t, { id: '1' }));
    batch.add(t, ins(t, { id: '2', v: 'c' }));
    batch.truncate([t], false);
    expect(batch.skipped).toBe(3);
    await applyBatch(batch);
    expect(await sql('SELECT id, v FROM only_ins ORDER BY id')).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'c' },
    ]);
  });

  it('writes through a partitioned table, and changes one row only where ctids repeat across partitions', async () => {
    await sql(`CREATE TABLE parted (id int PRIMARY KEY, v text, big text) PARTITION BY RANGE (id);
               CREATE TABLE parted_a PARTITION OF parted FOR VALUES FROM (0) TO (100);
               CREATE TABLE parted_b PARTITION OF parted FOR VALUES FROM (100) TO (200);
               INSERT INTO parted VALUES (1, 'a', 'big a'), (101, 'b', 'big b');
               CREATE TABLE pfull (a int, b text) PARTITION BY LIST (a);
               CREATE TABLE pfull_1 PARTITION OF pfull FOR VALUES IN (1);
               CREATE TABLE pfull_2 PARTITION OF pfull FOR VALUES IN (2);
               INSERT INTO pfull VALUES (1, 'x'), (2, 'x')`);
    const parted = await table('public', 'parted', ['id']);
    const pfull = await table('public', 'pfull', []);
    expect(parted.partitioned).toBe(true);
    const batch = new ChangeBatch();
    batch.add(parted, upd(parted, { id: '1', v: 'a2', big: U }));
    batch.add(parted, del(parted, { id: '101' }));
    batch.add(parted, ins(parted, { id: '150', v: 'c' }));
    batch.add(pfull, del(pfull, { a: '2', b: 'x' }, 'old'));
    batch.add(pfull, upd(pfull, { a: '1', b: 'y' }, { a: '1', b: 'x' }, 'old'));
    await applyBatch(batch);
    expect(await sql('SELECT id, v, big FROM parted ORDER BY id')).toEqual([
      { id: 1, v: 'a2', big: 'big a' },
      { id: 150, v: 'c', big: null },
    ]);
    expect(await sql('SELECT a, b FROM pfull')).toEqual([{ a: 1, b: 'y' }]);
  });
});

describe('a large batch', () => {
  it('applies 20,000 changes as a handful of statements, correctly', async () => {
    await sql(`CREATE TABLE bulk (id int PRIMARY KEY, v text, n int);
               INSERT INTO bulk SELECT g, 'pre', g FROM generate_series(0, 4999) g`);
    const t = await table('public', 'bulk', ['id']);
    const expected = new Map<number, { v: string; n: number | null }>();
    for (let i = 0; i < 5000; i += 1) expected.set(i, { v: 'pre', n: i });
    const batch = new ChangeBatch();
    for (let i = 5000; i < 15_000; i += 1) {
      batch.add(t, ins(t, { id: String(i), v: 'new', n: String(i) }));
      expected.set(i, { v: 'new', n: i });
    }
    for (let i = 0; i < 4000; i += 1) {
      batch.add(t, upd(t, { id: String(i), v: 'upd', n: null }));
      expected.set(i, { v: 'upd', n: null });
    }
    for (let i = 5000; i < 7000; i += 1) {
      batch.add(t, upd(t, { id: String(i), v: 'merged', n: U }));
      expected.get(i)!.v = 'merged';
    }
    for (let i = 4000; i < 5000; i += 1) {
      batch.add(t, upd(t, { id: String(i), v: 'partial', n: U }));
      batch.add(t, upd(t, { id: String(i), v: 'partial 2', n: U }));
      expected.get(i)!.v = 'partial 2';
    }
    for (let i = 13_000; i < 15_000; i += 1) {
      batch.add(t, del(t, { id: String(i) }));
      expected.delete(i);
    }
    expect(batch.size).toBe(20_000);
    const counter = counting(client);
    const started = performance.now();
    await applyBatch(batch, counter);
    const ms = performance.now() - started;
    console.log(`20,000 changes applied in ${Math.round(ms)} ms with ${counter.statements} statements`);
    expect(counter.statements).toBe(5); // SAVEPOINT, DELETE, upsert, one partial UPDATE, RELEASE
    const rows = await sql<{ id: number; v: string; n: number | null }>('SELECT id, v, n FROM bulk ORDER BY id');
    expect(rows.length).toBe(expected.size);
    expect(rows).toEqual([...expected.entries()].sort((a, b) => a[0] - b[0]).map(([id, r]) => ({ id, ...r })));
  });
});
