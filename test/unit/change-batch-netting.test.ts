// The netting and statement planning of ChangeBatch, without a database: which statements a
// batch of changes becomes, with which rows. test/change-batch.test.ts runs them for real.
import { describe, expect, it, vi } from 'vitest';
import { ChangeBatch, type PlannedStatement } from '../../activities/stream/change-batch';
import { UNCHANGED_TOAST, type DeleteMessage, type InsertMessage, type TupleValue, type UpdateMessage } from '../../activities/stream/pgoutput-types';
import type { ApplyColumn, ApplyTable } from '../../activities/stream/target-table';
import type { Operation } from '../../common/spec';
import { streamed } from '../support/streamed-change';
import { sentValues } from '../support/array-param';
import { RawRowChange } from '../../activities/stream/raw-row-change';
import type { RowChange } from '../../activities/stream/change-batch';

const U: typeof UNCHANGED_TOAST = UNCHANGED_TOAST;
const ALL: ReadonlySet<Operation> = new Set(['insert', 'update', 'delete', 'truncate']);
const col = (name: string, type = 'text', extra: Partial<ApplyColumn> = {}): ApplyColumn => ({ name, type, equality: true, ...extra });

/** id integer key, v text, big text (the one that gets TOASTed). */
function keyed(over: Partial<ApplyTable> = {}): ApplyTable {
  return { schema: 'public', name: 't', columns: [col('id', 'integer'), col('v'), col('big')], keyColumns: [0], operations: ALL, ...over };
}

function keyless(over: Partial<ApplyTable> = {}): ApplyTable {
  return { schema: 'public', name: 'f', columns: [col('a', 'integer'), col('j', 'json', { equality: false }), col('b')], keyColumns: [], operations: ALL, ...over };
}

const ins = (...newTuple: TupleValue[]): InsertMessage => ({ tag: 'insert', relationId: 1, newTuple });
const upd = (newTuple: TupleValue[], oldTuple?: TupleValue[], oldKind: 'key' | 'old' = 'key'): UpdateMessage => ({ tag: 'update', relationId: 1, newTuple, oldTuple, oldKind: oldTuple ? oldKind : undefined });
const del = (oldTuple: TupleValue[], oldKind: 'key' | 'old' = 'key'): DeleteMessage => ({ tag: 'delete', relationId: 1, oldTuple, oldKind });

const shape = (plan: PlannedStatement[]) => plan.map((s) => `${s.what}:${s.rows}`);

describe('ChangeBatch netting (tables with a key)', () => {
  it('nets insert, update, delete of one key to a single delete', () => {
    const t = keyed();
    const b = new ChangeBatch();
    b.add(t, ins('1', 'a', 'x'));
    b.add(t, upd(['1', 'b', 'x']));
    b.add(t, del(['1', null, null]));
    const plan = b.plan();
    expect(shape(plan)).toEqual(['delete:1']);
    expect(sentValues(plan[0])).toEqual([['1']]);
    expect(plan[0].text).toBe('DELETE FROM "public"."t" AS t USING unnest($1::int4[]) AS u(k1) WHERE t."id" = u.k1::integer');
    expect(b.size).toBe(3);
    expect(b.counts()).toEqual([{ schema: 'public', name: 't', inserts: 1, updates: 1, deletes: 1, truncates: 0 }]);
  });

  it('turns delete then re-insert into a delete of the old row and an upsert of the new', () => {
    const t = keyed();
    const b = new ChangeBatch();
    b.add(t, del(['1', null, null]));
    b.add(t, ins('1', 'again', 'y'));
    const plan = b.plan();
    expect(shape(plan)).toEqual(['delete:1', 'upsert:1']);
    expect(sentValues(plan[1])).toEqual([['1'], ['again'], ['y']]);
    expect(plan[1].text).toBe(
      'INSERT INTO "public"."t" ("id", "v", "big") OVERRIDING SYSTEM VALUE SELECT u.p1::integer, u.p2::text, u.p3::text FROM unnest($1::int4[], $2::text[], $3::text[]) AS u(p1, p2, p3) ON CONFLICT ("id") DO UPDATE SET "v" = EXCLUDED."v", "big" = EXCLUDED."big"',
    );
  });

  it('merges a partial update into the full row the batch holds, keeping the values not sent', () => {
    const t = keyed();
    const b = new ChangeBatch();
    b.add(t, ins('1', 'a', 'large'));
    b.add(t, upd(['1', 'b', U]));
    const plan = b.plan();
    expect(shape(plan)).toEqual(['upsert:1']);
    expect(sentValues(plan[0])).toEqual([['1'], ['b'], ['large']]);
  });

  it('merges successive partial updates of a key and sets only the columns sent', () => {
    const t: ApplyTable = { ...keyed(), columns: [col('id', 'integer'), col('v'), col('big'), col('w')] };
    const b = new ChangeBatch();
    b.add(t, upd(['1', 'b', U, U]));
    b.add(t, upd(['1', U, U, 'w2']));
    b.add(t, upd(['1', 'c', U, U]));
    const plan = b.plan();
    expect(shape(plan)).toEqual(['update:1']);
    expect(sentValues(plan[0])).toEqual([['1'], ['c'], ['w2']]);
    expect(plan[0].mustAffect).toBe(1);
    expect(plan[0].text).toBe(
      'UPDATE "public"."t" AS t SET "v" = u.s1::text, "w" = u.s2::text FROM unnest($1::int4[], $2::text[], $3::text[]) AS u(k1, s1, s2) WHERE t."id" = u.k1::integer',
    );
  });

  it('groups partial updates by the columns they carry: one statement per group', () => {
    const t = keyed();
    const b = new ChangeBatch();
    for (let i = 0; i < 100; i += 1) b.add(t, upd([String(i), i % 2 ? 'odd' : U, i % 2 ? U : 'even']));
    const plan = b.plan();
    expect(shape(plan)).toEqual(['update:50', 'update:50']);
    expect(plan[0].text).not.toBe(plan[1].text);
  });

  it('writes rows in the order their final states arose', () => {
    const t = keyed();
    const b = new ChangeBatch();
    b.add(t, ins('2', 'c', 'x'));
    b.add(t, ins('1', 'a', 'x'));
    b.add(t, upd(['2', 'd', 'x']));
    expect(sentValues(b.plan()[0])[0]).toEqual(['1', '2']);
  });

  it('turns a key change with a full new row into a delete of the old key and an upsert', () => {
    const t = keyed();
    const b = new ChangeBatch();
    b.add(t, upd(['2', 'a', 'x'], ['1', null, null]));
    const plan = b.plan();
    expect(shape(plan)).toEqual(['delete:1', 'upsert:1']);
    expect(sentValues(plan[0])).toEqual([['1']]);
    expect(sentValues(plan[1])).toEqual([['2'], ['a'], ['x']]);
  });

  it('merges a partial key change into the full row of the old key', () => {
    const t = keyed();
    const b = new ChangeBatch();
    b.add(t, ins('1', 'a', 'large'));
    b.add(t, upd(['2', 'b', U], ['1', null, null]));
    const plan = b.plan();
    expect(shape(plan)).toEqual(['delete:1', 'upsert:1']);
    expect(sentValues(plan[1])).toEqual([['2'], ['b'], ['large']]);
  });

  it('applies a partial key change without a full row on its own, in order', () => {
    const t = keyed();
    const b = new ChangeBatch();
    b.add(t, upd(['1', 'before', U]));
    b.add(t, upd(['2', 'moved', U], ['1', null, null]));
    b.add(t, upd(['2', 'after', U]));
    const plan = b.plan();
    expect(shape(plan)).toEqual(['update:1', 'update:1', 'update:1']);
    expect(sentValues(plan[1])).toEqual([['1'], ['2'], ['moved']]);
    expect(plan[1].text).toBe(
      'UPDATE "public"."t" AS t SET "id" = u.s1::integer, "v" = u.s2::text FROM unnest($1::int4[], $2::int4[], $3::text[]) AS u(k1, s1, s2) WHERE t."id" = u.k1::integer',
    );
    expect(sentValues(plan[2])).toEqual([['2'], ['after']]);
  });

  it('does not treat an update whose old key equals the new one as a key change', () => {
    const t = keyed();
    const b = new ChangeBatch();
    b.add(t, upd(['1', 'b', U], ['1', 'a', 'large'], 'old'));
    expect(shape(b.plan())).toEqual(['update:1']);
  });

  it('takes a key value left out as unchanged TOAST from the old key tuple', () => {
    const t: ApplyTable = { ...keyed(), keyColumns: [0, 2] };
    const b = new ChangeBatch();
    b.add(t, upd(['2', 'v', U], ['1', null, 'longkey']));
    const plan = b.plan();
    // Filled in, the new row is whole: the key change nets to a delete and an upsert.
    expect(shape(plan)).toEqual(['delete:1', 'upsert:1']);
    expect(sentValues(plan[0])).toEqual([['1'], ['longkey']]);
    expect(sentValues(plan[1])).toEqual([['2'], ['v'], ['longkey']]);
  });

  it('leaves GENERATED ALWAYS identity columns out of SET lists, but inserts them', () => {
    const t: ApplyTable = { ...keyed(), columns: [col('id', 'integer'), col('seq', 'bigint', { identity: 'always' }), col('big')] };
    const b = new ChangeBatch();
    b.add(t, ins('1', '7', 'x'));
    const sql = b.plan()[0].text;
    expect(sql).toContain('INSERT INTO "public"."t" ("id", "seq", "big") OVERRIDING SYSTEM VALUE');
    expect(sql).toContain('DO UPDATE SET "big" = EXCLUDED."big"');
  });

  it('uses DO NOTHING when every column is a key column', () => {
    const t: ApplyTable = { ...keyed(), columns: [col('a'), col('b')], keyColumns: [0, 1] };
    const b = new ChangeBatch();
    b.add(t, ins('x', 'y'));
    expect(b.plan()[0].text).toMatch(/ON CONFLICT \("a", "b"\) DO NOTHING$/);
  });

  it('names partitioned tables without ONLY and plain ones with it', () => {
    const b = new ChangeBatch();
    b.add(keyed({ partitioned: false }), del(['1', null, null]));
    b.add(keyed({ name: 'p', partitioned: true }), del(['1', null, null]));
    const [plain, parted] = b.plan();
    expect(plain.text).toMatch(/^DELETE FROM ONLY "public"."t" AS t/);
    expect(parted.text).toMatch(/^DELETE FROM "public"."p" AS t/);
  });
});

describe('ChangeBatch barriers and filters', () => {
  it('applies a truncate after everything before it and before everything after it', () => {
    const t = keyed();
    const b = new ChangeBatch();
    b.add(t, ins('1', 'a', 'x'));
    b.truncate([t], true);
    b.add(t, ins('2', 'b', 'x'));
    const plan = b.plan();
    expect(shape(plan)).toEqual(['upsert:1', 'truncate:0', 'upsert:1']);
    expect(plan[1].text).toBe('TRUNCATE ONLY "public"."t" RESTART IDENTITY');
    expect(b.counts()[0]).toMatchObject({ inserts: 2, truncates: 1 });
  });

  it('skips and counts operations a table does not replicate', () => {
    const t = keyed({ operations: new Set<Operation>(['insert']) });
    const b = new ChangeBatch();
    b.add(t, ins('1', 'a', 'x'));
    b.add(t, upd(['1', 'b', 'x']));
    b.add(t, del(['1', null, null]));
    b.truncate([t], false);
    expect(b.skipped).toBe(3);
    expect(b.size).toBe(1);
    expect(shape(b.plan())).toEqual(['upsert:1']);
    expect(sentValues(b.plan()[0])).toEqual([['1'], ['a'], ['x']]);
  });

  it('rejects a tuple whose width differs from the table, naming the table', () => {
    const b = new ChangeBatch();
    expect(() => b.add(keyed(), ins('1', 'a'))).toThrow(/"public"\."t" has 2 columns where the target table has 3/);
  });

  it('rejects a key without a value, naming the column but no value', () => {
    const b = new ChangeBatch();
    expect(() => b.add(keyed(), upd([U, 'secret', 'x']))).toThrow(/no value for key column id$/);
  });

  it('is empty again after clear()', () => {
    const b = new ChangeBatch();
    b.add(keyed(), ins('1', 'a', 'x'));
    b.clear();
    expect(b.isEmpty).toBe(true);
    expect(b.plan()).toEqual([]);
    expect(b.counts()).toEqual([]);
  });
});

describe('ChangeBatch planning for tables without a key', () => {
  it('keeps order, batches consecutive inserts and changes exactly one row per update or delete', () => {
    const t = keyless();
    const b = new ChangeBatch();
    b.add(t, ins('1', '{"a": 1}', 'x'));
    b.add(t, ins('1', '{"a": 1}', 'x'));
    b.add(t, del(['1', '{"a": 1}', null], 'old'));
    b.add(t, upd(['2', '[]', U], ['1', '{"a": 1}', U], 'old'));
    b.add(t, ins('3', null, 'z'));
    const plan = b.plan();
    expect(shape(plan)).toEqual(['insert:2', 'delete:1', 'update:1', 'insert:1']);
    expect(plan[0].text).not.toContain('ON CONFLICT');
    expect(plan[1].text).toBe(
      'DELETE FROM "public"."f" WHERE (tableoid, ctid) = (SELECT t.tableoid, t.ctid FROM "public"."f" AS t WHERE t."a" = $1::integer AND t."j"::text = $2 AND t."b" IS NULL LIMIT 1)',
    );
    expect(sentValues(plan[1])).toEqual(['1', '{"a": 1}']);
    expect(plan[1].mustAffect).toBe(1);
    expect(plan[2].text).toBe(
      'UPDATE "public"."f" SET "a" = $3::integer, "j" = $4::json WHERE (tableoid, ctid) = (SELECT t.tableoid, t.ctid FROM "public"."f" AS t WHERE t."a" = $1::integer AND t."j"::text = $2 LIMIT 1)',
    );
    expect(sentValues(plan[2])).toEqual(['1', '{"a": 1}', '2', '[]']);
  });

  it('refuses an update without an old row', () => {
    expect(() => new ChangeBatch().add(keyless(), upd(['1', null, 'x']))).toThrow(/"public"\."f" carries no old row/);
  });
});

describe('ChangeBatch at scale', () => {
  it('plans 20,000 changes as a handful of statements and reuses the SQL text', () => {
    const t = keyed();
    const b = new ChangeBatch();
    for (let i = 0; i < 10_000; i += 1) b.add(t, ins(String(i), 'v', 'x'));
    for (let i = 0; i < 5_000; i += 1) b.add(t, upd([String(i), 'w', U]));
    for (let i = 5_000; i < 8_000; i += 1) b.add(t, del([String(i), null, null]));
    for (let i = 20_000; i < 22_000; i += 1) b.add(t, upd([String(i), 'p', U]));
    const plan = b.plan();
    expect(shape(plan)).toEqual(['delete:3000', 'upsert:7000', 'update:2000']);
    const again = new ChangeBatch();
    again.add(t, ins('1', 'a', 'b'));
    expect(again.plan()[0].text).toBe(plan[1].text);
  });
});

describe('ChangeBatch upserts in key order', () => {
  const upsertedKeys = (t: ApplyTable, keys: string[]) => {
    const b = new ChangeBatch();
    for (const k of keys) b.add(t, ins(k, `v${k}`, 'x'));
    const [upsert] = b.plan();
    expect(upsert.what).toBe('upsert');
    // Every column's array in the same order: the rows stay whole.
    const [keysSent, valuesSent] = sentValues(upsert) as string[][];
    expect(valuesSent).toEqual(keysSent.map((k) => `v${k}`));
    return keysSent;
  };

  it('sorts an integer key by number, not as text, when the table allows it', () => {
    const keys = ['10', '9', '-3', '100', '2', '9007199254740993'];
    const t = keyed({ columns: [col('id', 'bigint'), col('v'), col('big')], keyOrder: 'number' });
    expect(upsertedKeys(t, keys)).toEqual(['-3', '2', '9', '10', '100', '9007199254740993']);
  });

  it('sorts a uuid key as its text', () => {
    const uuids = ['f0000000-0000-4000-8000-000000000000', '0a000000-0000-4000-8000-000000000000', '09000000-0000-4000-8000-000000000000'];
    const t = keyed({ columns: [col('id', 'uuid'), col('v'), col('big')], keyOrder: 'text' });
    expect(upsertedKeys(t, uuids)).toEqual([uuids[2], uuids[1], uuids[0]]);
  });

  it('keeps the order the final states arose in otherwise (another unique index may care)', () => {
    expect(upsertedKeys(keyed(), ['10', '9', '100'])).toEqual(['10', '9', '100']);
  });

  it('sorts rows kept as bytes the same way', () => {
    const t = keyed({ keyOrder: 'number' });
    const b = new ChangeBatch();
    for (const k of ['3', '1', '2']) b.add(t, streamed(ins(k, `v${k}`, 'x')));
    expect(sentValues(b.plan()[0])[0]).toEqual(['1', '2', '3']);
  });
});

/** A plan with every parameter as the bytes the target gets. */
const asSent = (plan: PlannedStatement[]) => plan.map((p) => ({ ...p, values: p.values.map((v) => (Buffer.isBuffer(v) ? Buffer.from(v) : v)) }));

describe('ChangeBatch with rows kept as bytes (what the stream feeds it)', () => {
  const composite = (): ApplyTable => ({ schema: 'public', name: 'c', columns: [col('a', 'integer'), col('b'), col('v')], keyColumns: [0, 1], operations: ALL });
  const scenarios: Array<[string, () => ApplyTable, RowChange[]]> = [
    ['insert, update, delete of one key', keyed, [ins('1', 'a', 'x'), upd(['1', 'b', 'x']), del(['1', null, null])]],
    ['delete then re-insert', keyed, [del(['1', null, null]), ins('1', 'again', 'y')]],
    ['a partial update merged into a row held as bytes', keyed, [ins('1', 'a', 'large'), upd(['1', 'b', U]), upd(['1', U, 'w2'])]],
    ['a partial update alone', keyed, [upd(['1', 'b', U])]],
    ['a key change after a row held as bytes', keyed, [ins('1', 'a', 'x'), upd(['2', 'moved', U], ['1', null, null])]],
    ['many keys, NULLs and UTF-8, updates netted', keyed, Array.from({ length: 300 }, (_, i) => (i % 3 === 2 ? upd([String(i % 50), null, `ü ${i} 🚀`]) : ins(String(i), i % 4 ? `v${i}` : '', null)))],
    ['a composite key', composite, [ins('1', 'a', 'x'), ins('1', 'b', 'y'), upd(['1', 'a', 'z']), del(['1', 'b', null])]],
    ['a table without a key', keyless, [ins('1', '{"a": 1}', 'x'), ins('2', null, 'y'), del(['1', '{"a": 1}', 'x'], 'old'), ins('3', '[]', '')]],
  ];
  for (const [name, table, changes] of scenarios) {
    it(`plans ${name} exactly as from decoded values`, () => {
      const t = table();
      const decoded = new ChangeBatch();
      const asBytes = new ChangeBatch();
      for (const c of changes) {
        decoded.add(t, c);
        asBytes.add(t, streamed(c));
      }
      expect(asSent(asBytes.plan())).toEqual(asSent(decoded.plan()));
      expect(asBytes.counts()).toEqual(decoded.counts());
    });
  }

  it('writes complete rows from their bytes, never from decoded values', () => {
    for (const t of [keyed(), keyless()]) {
      const b = new ChangeBatch();
      for (let i = 1; i <= 3; i += 1) b.add(t, streamed(ins(String(i), i === 2 ? null : `v${i}`, 'x')));
      // Copied (or parsed) from the bytes: no change is ever decoded into JS values.
      const decoding = vi.spyOn(RawRowChange.prototype, 'newTuple', 'get');
      try {
        const [rows] = b.plan();
        expect(sentValues(rows)).toEqual([['1', '2', '3'], ['v1', null, 'v3'], ['x', 'x', 'x']]);
        expect(decoding).not.toHaveBeenCalled();
      } finally {
        decoding.mockRestore();
      }
    }
  });

  it('rejects a row of the wrong width or without a key value as it rejects decoded ones', () => {
    const b = new ChangeBatch();
    expect(() => b.add(keyed(), streamed(ins('1', 'a')))).toThrow(/"public"."t" has 2 columns where the target table has 3/);
    expect(() => b.add(keyed(), streamed(ins(null, 'a', 'b')))).toThrow(/no value for key column id/);
  });
});
