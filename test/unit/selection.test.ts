import { describe, expect, it } from 'vitest';
import { matchesColumn, matchesTable, parseExactName, parsePattern } from '../../common/object-patterns';
import { objectsSchema } from '../../common/objects-spec';
import { columnFate, selectTables, type CatalogTable } from '../../common/selection';
import { validateSpec } from '../../common/spec';

describe('object patterns', () => {
  it('folds unquoted names, keeps quoted ones, and globs', () => {
    expect(matchesTable(parsePattern('Sales.Orders'), 'sales', 'orders')).toBe(true);
    expect(matchesTable(parsePattern('Sales.Orders'), 'Sales', 'Orders')).toBe(false);
    expect(matchesTable(parsePattern('"Sales"."Order Items"'), 'Sales', 'Order Items')).toBe(true);
    expect(matchesTable(parsePattern('public.audit_*'), 'public', 'audit_2024')).toBe(true);
    expect(matchesTable(parsePattern('public.audit_?'), 'public', 'audit_12')).toBe(false);
    expect(matchesTable(parsePattern('"a.b".c'), 'a.b', 'c')).toBe(true);
    expect(matchesTable(parsePattern('"x*"'), 'xy', 't')).toBe(false); // quoted: no wildcard
    expect(matchesTable(parsePattern('café.commandes'), 'café', 'commandes')).toBe(true);
    expect(matchesTable(parsePattern('sales'), 'sales', 'anything')).toBe(true);
    expect(matchesColumn(parsePattern('s.t.secret_*'), 's', 't', 'secret_key')).toBe(true);
    expect(parseExactName('"Say ""hi"""', 1, 1)).toEqual(['Say "hi"']);
  });

  it('rejects bad syntax with a message', () => {
    expect(() => parsePattern('a.b.c.d')).toThrow(/4 parts/);
    expect(() => parsePattern('"open')).toThrow(/unterminated quote/);
    expect(() => parsePattern('a..b')).toThrow(/empty name part/);
    expect(() => parseExactName('s.t*', 2, 2)).toThrow(/wildcards are not allowed/);
  });

  it('reports spec problems by field', () => {
    const result = validateSpec({
      source: 'postgres://u@h/db',
      target: 'postgres://u@h/db2',
      objects: { include: ['"unclosed'], rename: { sales: 'a.b' }, tables: { 'only_one_part': { where: 'x' }, 's.t': { columns: ['a'], excludeColumns: ['b'] } } },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toContain('objects.include.0: unterminated quote in ""unclosed"');
    expect(result.problems).toContain('objects.rename.sales: a schema is renamed to a schema name (one part)');
    expect(result.problems).toContain('objects.tables.only_one_part: "only_one_part" must have 2 dot-separated part(s); quote names that contain dots');
    expect(result.problems).toContain('objects.tables.s.t.excludeColumns: give either a column list (columns: [...]) or excludeColumns, not both');
  });
});

describe('selectTables', () => {
  const catalog: CatalogTable[] = [
    { schema: 'sales', name: 'orders', partitioned: true, columns: ['id', 'total', 'note'] },
    { schema: 'sales', name: 'orders_2024', partitioned: false, root: { schema: 'sales', name: 'orders' }, columns: ['id', 'total', 'note'] },
    { schema: 'sales', name: 'customers', partitioned: false, columns: ['id', 'name'] },
    { schema: 'public', name: 'audit_log', partitioned: false, columns: ['id'] },
    { schema: 'public', name: 'items', partitioned: false, columns: ['id', 'secret'] },
  ];
  const select = (objects: unknown) => selectTables(objectsSchema.parse(objects), catalog, ['public', 'sales'], 'error');

  it('selects everything by default, and partitions follow their partitioned table', () => {
    const s = select({ exclude: ['sales.orders', 'public.items.secret'], tables: { 'public.items': { conflicts: 'ignore' } } });
    expect(s.problems).toEqual([]);
    expect(s.tables.map((t) => `${t.schema}.${t.name}`)).toEqual(['sales.customers', 'public.audit_log', 'public.items']);
    expect(s.tables.find((t) => t.name === 'items')).toMatchObject({ columns: ['id'], excludedColumns: ['secret'], conflicts: 'ignore' });
    expect(s.wholeSchemas).toEqual(['public', 'sales']);
  });

  it('maps names: schema renames, table renames into other schemas, column renames', () => {
    const s = select({ include: ['sales'], rename: { sales: 'shop', 'sales.customers': 'crm.clients' }, tables: { 'sales.orders': { columns: { total: 'amount' }, where: 'id > 1' } } });
    expect(s.problems).toEqual([]);
    const byName = Object.fromEntries(s.tables.map((t) => [t.name, t]));
    expect(byName.orders.target).toEqual({ schema: 'shop', name: 'orders' });
    expect(byName.orders_2024).toMatchObject({ target: { schema: 'shop', name: 'orders_2024' }, where: 'id > 1', renameColumns: { total: 'amount' } });
    expect(byName.customers.target).toEqual({ schema: 'crm', name: 'clients' });
    expect(s.schemaRenames).toEqual({ sales: 'shop' });
    expect(s.wholeSchemas).toEqual(['sales']);
  });

  it('names every pattern, option and rename that matches nothing, and clashing target names', () => {
    const s = select({
      include: ['sales.*', 'nope.*'],
      exclude: ['public.ghost'],
      rename: { 'sales.customers': 'orders' },
      tables: { 'public.items': { where: 'true' }, 'sales.orders_2024': { where: 'true' }, 'sales.customers': { columns: ['id', 'missing'] } },
    });
    expect(s.problems).toEqual([
      'objects.tables."sales.orders_2024": sales.orders_2024 is a partition of sales.orders; give the options on the partitioned table',
      'objects.tables."sales.customers".columns: sales.customers has no column "missing"',
      'objects.include: "nope.*" matches nothing on the source',
      'objects.exclude: "public.ghost" matches nothing on the source',
      'objects.tables."public.items": the table is not selected (see objects.include / exclude)',
      'objects.rename: sales.orders and sales.customers would both become sales.orders in the target',
    ]);
  });

  it('judges any column by name, as DDL adds or renames it: kept or left out, and its target name', () => {
    const objects = objectsSchema.parse({ exclude: ['public.people.secret_*'], tables: { 'public.people': { columns: { name: 'full_name' }, excludeColumns: ['ssn'] }, 'public.narrow': { columns: ['id', 'v'] } } });
    const people = { schema: 'public', name: 'people' };
    expect(columnFate(objects, people, 'name')).toEqual({ kept: true, target: 'full_name' });
    expect(columnFate(objects, people, 'ssn')).toEqual({ kept: false, target: 'ssn' });
    expect(columnFate(objects, people, 'secret_new')).toEqual({ kept: false, target: 'secret_new' });
    expect(columnFate(objects, people, 'added')).toEqual({ kept: true, target: 'added' });
    // A column list keeps only its columns: one added later is left out.
    expect(columnFate(objects, { schema: 'public', name: 'narrow' }, 'v').kept).toBe(true);
    expect(columnFate(objects, { schema: 'public', name: 'narrow' }, 'added').kept).toBe(false);
    expect(columnFate(objects, { schema: 'public', name: 'other' }, 'secret_x')).toEqual({ kept: true, target: 'secret_x' });
  });
});
