import { describe, expect, it } from 'vitest';
import { hasTag, pickStatement, rewriteNames, tableRename, targetSearchPath, withNoData, withoutConcurrently, type TargetNames } from '../../activities/stream/ddl-statement';
import { parseIdentity } from '../../activities/stream/ddl-apply';
import { addDdlRecords, ddlCaptureNames } from '../../common/ddl';
import { replicationNames } from '../../common/replication-names';
import { isPgferryEntry } from '../../activities/schema/dump-options';

describe('picking the DDL statement out of the client query', () => {
  const query = `ALTER TABLE items ADD COLUMN extra integer; INSERT INTO items VALUES (1, 'a;b', 7);
    CREATE INDEX CONCURRENTLY items_v ON items (v); alter table items drop column extra;`;

  it('finds the n-th statement with the command tag, skipping DML and other tags', () => {
    expect(pickStatement(query, 'ALTER TABLE', 1)).toBe('ALTER TABLE items ADD COLUMN extra integer');
    expect(pickStatement(query, 'ALTER TABLE', 2)).toBe('alter table items drop column extra');
    expect(pickStatement(query, 'CREATE INDEX', 1)).toBe('CREATE INDEX CONCURRENTLY items_v ON items (v)');
    // The same text run again in the transaction: the same statements again.
    expect(pickStatement(query, 'ALTER TABLE', 3)).toBe('ALTER TABLE items ADD COLUMN extra integer');
  });

  it('finds nothing for DDL that a function ran', () => {
    expect(pickStatement('SELECT make_tables()', 'CREATE TABLE', 1)).toBeUndefined();
    expect(pickStatement('DO $$ BEGIN EXECUTE $x$CREATE TABLE t ()$x$; END $$', 'CREATE TABLE', 1)).toBeUndefined();
  });

  it('tells the tags PostgreSQL gives apart', () => {
    expect(hasTag('CREATE TABLE t AS SELECT 1 AS a', 'CREATE TABLE AS')).toBe(true);
    expect(hasTag('CREATE TABLE t AS SELECT 1 AS a', 'CREATE TABLE')).toBe(false);
    expect(hasTag('CREATE TABLE t (a int GENERATED ALWAYS AS (1) STORED)', 'CREATE TABLE')).toBe(true);
    expect(hasTag('CREATE OR REPLACE VIEW v AS SELECT 1', 'CREATE VIEW')).toBe(true);
    expect(hasTag('CREATE UNIQUE INDEX i ON t (a)', 'CREATE INDEX')).toBe(true);
    expect(hasTag('create temp table x (a int)', 'CREATE TABLE')).toBe(true);
    expect(hasTag('SELECT * INTO t2 FROM t', 'SELECT INTO')).toBe(true);
    expect(hasTag('COMMENT ON COLUMN t.a IS $$x$$', 'COMMENT')).toBe(true);
    expect(hasTag('ALTER TYPE mood ADD VALUE \'meh\'', 'ALTER TYPE')).toBe(true);
  });
});

describe('rewriting a statement for the target', () => {
  const names: TargetNames = {
    schema: (s) => (s === 'sales' ? 'shop' : undefined),
    table: (schema, name) => (schema === 'public' && name === 'customers' ? { schema: 'public', name: 'clients' } : schema === 'sales' ? { schema: 'shop', name } : undefined),
  };

  it('renames tables wherever a table stands, and renamed schemas in qualified names', () => {
    expect(rewriteNames('ALTER TABLE customers ADD COLUMN note text', '"$user", public', names)).toBe('ALTER TABLE "public"."clients" ADD COLUMN note text');
    expect(rewriteNames('CREATE INDEX ON public.customers (customers)', 'public', names)).toBe('CREATE INDEX ON "public"."clients" (customers)');
    expect(rewriteNames('ALTER TABLE sales.orders RENAME COLUMN a TO b', 'public', names)).toBe('ALTER TABLE "shop"."orders" RENAME COLUMN a TO b');
    expect(rewriteNames('CREATE VIEW sales.v AS SELECT 1', 'public', names)).toBe('CREATE VIEW "shop"."v" AS SELECT 1');
    expect(rewriteNames("COMMENT ON COLUMN customers.email IS 'customers'", 'public', names)).toBe(`COMMENT ON COLUMN "public"."clients".email IS 'customers'`);
    // A column named like the table is not the table.
    expect(rewriteNames('ALTER TABLE items ADD COLUMN customers int', 'public', names)).toBe('ALTER TABLE items ADD COLUMN customers int');
    expect(targetSearchPath('sales, public', names)).toBe('"shop", public');
  });

  it('drops CONCURRENTLY and makes CREATE TABLE AS create an empty table', () => {
    expect(withoutConcurrently('CREATE INDEX CONCURRENTLY i ON t (a)')).toBe('CREATE INDEX i ON t (a)');
    expect(withoutConcurrently('DROP INDEX CONCURRENTLY IF EXISTS i')).toBe('DROP INDEX IF EXISTS i');
    expect(withoutConcurrently('ALTER TABLE concurrently ADD COLUMN a int')).toBe('ALTER TABLE concurrently ADD COLUMN a int');
    expect(withNoData('CREATE TABLE t AS SELECT * FROM s WITH DATA;')).toBe('CREATE TABLE t AS SELECT * FROM s WITH NO DATA');
  });

  it('finds a table rename or move, and puts another name in its place', () => {
    const rename = tableRename('ALTER TABLE IF EXISTS public.a RENAME TO "B"');
    expect(rename).toMatchObject({ kind: 'name', value: 'B' });
    expect(rename!.withValue('c')).toBe('ALTER TABLE IF EXISTS public.a RENAME TO "c"');
    const move = tableRename('alter table a set schema archive');
    expect(move).toMatchObject({ kind: 'schema', value: 'archive' });
    expect(move!.withValue('old')).toBe('alter table a set schema "old"');
    expect(tableRename('ALTER TABLE a RENAME COLUMN x TO y')).toBeUndefined();
    expect(tableRename('ALTER TABLE a RENAME CONSTRAINT x TO y')).toBeUndefined();
    expect(tableRename('ALTER INDEX a RENAME TO b')).toBeUndefined();
  });

  it('reads object identities', () => {
    expect(parseIdentity('public.items')).toEqual({ schema: 'public', name: 'items' });
    expect(parseIdentity('"My ""S"""."a.b"')).toEqual({ schema: 'My "S"', name: 'a.b' });
  });
});

describe('DDL capture names and progress', () => {
  it('names the capture after the migration and leaves it out of dumps', () => {
    const n = ddlCaptureNames(replicationNames('mig-1'));
    expect(n.schema.startsWith('_pgferry_ddl_')).toBe(true);
    expect(isPgferryEntry({ desc: `EVENT TRIGGER - ${n.endTrigger} postgres` })).toBe(true);
    expect(isPgferryEntry({ desc: 'EVENT TRIGGER - audit_ddl postgres' })).toBe(false);
    expect(isPgferryEntry({ desc: 'PUBLICATION - pgferry_mig_1_0a1b2c3d postgres' })).toBe(true);
    expect(isPgferryEntry({ desc: 'PUBLICATION TABLE public pgferry_mig_1_0a1b2c3d_i audit_log postgres' })).toBe(true);
    expect(isPgferryEntry({ desc: 'PUBLICATION - app_changes postgres' })).toBe(false);
  });

  it('counts applied and skipped statements and keeps the last', () => {
    const p = addDdlRecords(undefined, [
      { lsn: '0/1', tag: 'ALTER TABLE', statement: 'a', action: 'applied' },
      { lsn: '0/2', tag: 'DROP TABLE', statement: 'b', action: 'skipped', reason: 'x' },
    ]);
    expect(p).toMatchObject({ applied: 1, skipped: 1, last: { lsn: '0/2' } });
  });
});
