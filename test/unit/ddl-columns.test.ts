import { describe, expect, it } from 'vitest';
import { planColumns, type ColumnFate } from '../../activities/stream/ddl-columns';

// The spec: column "secret" (and any "secret_*") left out, "name" migrated as "full_name".
const fate: ColumnFate = (c) => ({ kept: !c.startsWith('secret'), target: c === 'name' ? 'full_name' : c });
const leftOut = new Set(['secret']);
const plan = (sql: string) => planColumns(sql, 'public.t', fate, leftOut);

describe('planColumns', () => {
  it('names renamed columns by their target names, in each position a column stands', () => {
    expect(plan('ALTER TABLE t ALTER COLUMN name SET NOT NULL')).toEqual({ action: 'apply', sql: 'ALTER TABLE t ALTER COLUMN "full_name" SET NOT NULL' });
    expect(plan('ALTER TABLE t RENAME name TO label')).toEqual({ action: 'apply', sql: 'ALTER TABLE t RENAME "full_name" TO label' });
    expect(plan('ALTER TABLE t RENAME COLUMN label TO name')).toEqual({ action: 'apply', sql: 'ALTER TABLE t RENAME COLUMN label TO "full_name"' });
    expect(plan('ALTER TABLE t ADD COLUMN n2 text DEFAULT upper(name), ADD CONSTRAINT name_set CHECK (name IS NOT NULL)')).toEqual({
      action: 'apply',
      sql: 'ALTER TABLE t ADD COLUMN n2 text DEFAULT upper("full_name"), ADD CONSTRAINT name_set CHECK ("full_name" IS NOT NULL)',
    });
    expect(plan('CREATE INDEX name ON public.t (lower(name), id)')).toEqual({ action: 'apply', sql: 'CREATE INDEX name ON public.t (lower("full_name"), id)' });
    expect(plan("COMMENT ON COLUMN public.t.name IS 'who'")).toEqual({ action: 'apply', sql: `COMMENT ON COLUMN public.t."full_name" IS 'who'` });
    // A type, a string and a qualified name that happen to read "name" stay.
    expect(plan("ALTER TABLE t ALTER COLUMN id TYPE name USING 'name'")).toEqual({ action: 'apply', sql: "ALTER TABLE t ALTER COLUMN id TYPE name USING 'name'" });
    expect(plan('ALTER TABLE t ADD COLUMN label name')).toEqual({ action: 'apply', sql: 'ALTER TABLE t ADD COLUMN label name' });
  });

  it('skips a statement only about left-out columns, also one that DDL adds under a left-out name', () => {
    expect(plan('ALTER TABLE t ALTER COLUMN secret TYPE bigint').action).toBe('skip');
    expect(plan('ALTER TABLE t DROP COLUMN IF EXISTS secret').action).toBe('skip');
    expect(plan('ALTER TABLE t ADD COLUMN IF NOT EXISTS secret_2 text')).toEqual({ action: 'skip', reason: 'it is about column secret_2 of public.t, which objects leaves out' });
    expect(plan('ALTER TABLE t RENAME COLUMN secret TO secret_old').action).toBe('skip');
    expect(plan('CREATE INDEX ON t (secret)').action).toBe('skip');
    expect(plan("COMMENT ON COLUMN t.secret IS 'x'").action).toBe('skip');
  });

  it('refuses what would make the target differ: mixed clauses, renames across the selection, definitions reading left-out columns', () => {
    expect(plan('ALTER TABLE t ADD COLUMN a int, DROP COLUMN secret')).toMatchObject({ action: 'refuse', reason: expect.stringContaining('together with migrated columns') });
    expect(plan('ALTER TABLE t RENAME COLUMN secret TO visible')).toMatchObject({ action: 'refuse', reason: expect.stringContaining('appear on the target') });
    expect(plan('ALTER TABLE t RENAME COLUMN name TO secret_name')).toMatchObject({ action: 'refuse', reason: expect.stringContaining('vanish from the target') });
    expect(plan('ALTER TABLE t ADD COLUMN copy text GENERATED ALWAYS AS (secret) STORED')).toMatchObject({ action: 'refuse', reason: expect.stringContaining('reads column secret') });
  });

  it('leaves statements on other columns as they are', () => {
    for (const sql of ['ALTER TABLE ONLY public.t ADD COLUMN extra int DEFAULT 0', 'ALTER TABLE t ALTER id SET DEFAULT 1, ADD PRIMARY KEY (id)', 'ALTER TABLE t RENAME TO u', 'ALTER TABLE t DROP CONSTRAINT secret_check']) {
      expect(plan(sql)).toEqual({ action: 'apply', sql });
    }
  });
});
