/**
 * The spec's objects section on a real migration: schema- and table-level selection with
 * globs and mixed-case names, an excluded column (its index and the view on it left out, with
 * warnings), a row filter, renames of a schema, a table used by a view and a foreign key, and
 * a column; and a per-table conflicts: ignore override. The target must equal what SELECTs with
 * the mapping and filter applied give on the source.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationReport } from '../common/plan';
import { queryChecksum, runCli, startHarness, userRelations, writeSpec, type Harness } from './support/harness';


describe('objects: selection, mapping, filters, conflicts', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'objects', temporalAddress: inject('temporalAddress') });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.target.createDatabase('moved');
    await h.target.createDatabase('whole');
    await h.source.query(
      `CREATE SCHEMA sales;
       CREATE TYPE sales.tier AS ENUM ('bronze', 'gold');
       CREATE TABLE sales.customers (id int PRIMARY KEY, name text NOT NULL, tier sales.tier);
       INSERT INTO sales.customers SELECT g, 'customer ' || g, CASE WHEN g % 3 = 0 THEN 'gold' ELSE 'bronze' END::sales.tier FROM generate_series(1, 200) g;
       CREATE TABLE sales.orders (id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES sales.customers, total numeric(12,2), placed date);
       INSERT INTO sales.orders (customer_id, total, placed) SELECT 1 + g % 200, g * 1.25, date '2024-01-01' + g % 400 FROM generate_series(1, 3000) g;
       CREATE VIEW sales.order_totals AS SELECT c.name, sum(o.total) AS total FROM sales.orders o JOIN sales.customers c ON c.id = o.customer_id GROUP BY c.name;
       CREATE FUNCTION sales.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.placed := coalesce(NEW.placed, current_date); RETURN NEW; END $$;
       CREATE TRIGGER orders_touch BEFORE INSERT ON sales.orders FOR EACH ROW EXECUTE FUNCTION sales.touch();
       CREATE TABLE sales.visits (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
       CREATE TABLE sales.visits_2023 PARTITION OF sales.visits FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
       CREATE TABLE sales.visits_2024 PARTITION OF sales.visits FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
       INSERT INTO sales.visits SELECT g, date '2023-01-01' + g % 700 FROM generate_series(1, 2000) g;
       CREATE FUNCTION sales.customer_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM sales.customers $$;

       CREATE SCHEMA lib;
       CREATE DOMAIN lib.amount AS numeric CHECK (VALUE >= 0);
       CREATE FUNCTION lib.unused() RETURNS int LANGUAGE sql AS 'SELECT 1';
       CREATE TABLE public.products (id int PRIMARY KEY, name text, price lib.amount, internal_note text);
       INSERT INTO public.products SELECT g, 'product ' || g, g * 2, 'note ' || g FROM generate_series(1, 500) g;
       CREATE INDEX products_note_idx ON public.products (internal_note);
       CREATE INDEX products_name_idx ON public.products (name);
       CREATE VIEW public.product_notes AS SELECT id, internal_note FROM public.products;
       CREATE TABLE public.audit_log (id int PRIMARY KEY, what text);
       INSERT INTO public.audit_log SELECT g, 'x' FROM generate_series(1, 50) g;
       CREATE TABLE public.audit_more (id int);
       CREATE TABLE public.events (id bigint PRIMARY KEY, kind text, audit_id int REFERENCES public.audit_log);
       INSERT INTO public.events SELECT g, CASE WHEN g % 4 = 0 THEN 'keep' ELSE 'drop' END, 1 + g % 50 FROM generate_series(1, 4000) g;
       CREATE TABLE public.settings (key text PRIMARY KEY, value text);
       INSERT INTO public.settings SELECT 'k' || g, 'source ' || g FROM generate_series(1, 20) g;
       CREATE TABLE public.unselected (id int);
       CREATE VIEW public.unselected_view AS SELECT 1 AS one;

       CREATE SCHEMA "Mixed";
       CREATE TABLE "Mixed"."Éléments" ("Id" int PRIMARY KEY, "Label" text);
       CREATE VIEW "Mixed".leftover AS SELECT 1 AS one;
       INSERT INTO "Mixed"."Éléments" SELECT g, 'é ' || g FROM generate_series(1, 30) g;
       CREATE SCHEMA audit;
       CREATE TABLE audit.trail (id int);`,
      'app',
    );
    await h.target.query(
      `CREATE TABLE public.settings (key text PRIMARY KEY, value text);
       INSERT INTO public.settings VALUES ('k1', 'target one'), ('k2', 'target two'), ('zz', 'target only');`,
      'app',
    );
  });

  afterAll(async () => {
    await h?.close();
  });

  it('fails the precheck, naming each pattern, name or filter at fault, and writes nothing', async () => {
    const spec = writeSpec({
      source: h.source.url('app'),
      target: h.target.url('app'),
      objects: {
        include: ['sales', 'public.nothing_*'],
        exclude: ['public.products.no_such_column'],
        rename: { 'sales.missing': 'other' },
        tables: { 'sales.orders': { where: 'no_such_col > 1' } },
      },
    });
    const run = await runCli(['precheck', spec, '--json'], h.cliEnv);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as { items: Array<{ id: string; status: string; title: string }> };
    const selection = report.items.find((i) => i.id === 'objects-selection')!;
    expect(selection.status).toBe('fail');
    expect(selection.title).toContain('objects.include: "public.nothing_*" matches nothing on the source');
    expect(selection.title).toContain('objects.exclude: "public.products.no_such_column" matches nothing on the source');
    expect(selection.title).toContain('objects.rename "sales.missing": no selected table has that name on the source');
    const filters = report.items.find((i) => i.id === 'row-filters')!;
    expect(filters.status).toBe('fail');
    expect(filters.title).toMatch(/sales\.orders: where "no_such_col > 1": column "no_such_col" does not exist/);
    expect(await userRelations(h.target, 'app')).toEqual(['public.settings', 'public.settings_pkey']);
  });

  it('migrates the selection under the mapped names, with filtered rows and without excluded columns', async () => {
    const spec = writeSpec({
      source: h.source.url('app'),
      target: h.target.url('app'),
      validation: 'checksum',
      // audit.trail and others have no key, but they are not selected: no tables-without-key warning.
      precheck: { ignore: ['renamed-in-functions', 'target-conflicts'] },
      objects: {
        include: ['sales', 'public.*', '"Mixed"."Éléments"'],
        exclude: ['public.audit_*', 'public.unselected', 'public.products.internal_note'],
        rename: { sales: 'shop', 'sales.customers': 'clients', '"Mixed"."Éléments"': 'public.elements' },
        tables: {
          'sales.orders': { columns: { total: 'amount' } },
          'sales.visits': { rename: 'history', where: "at >= '2023-07-01'" },
          'public.events': { where: "kind = 'keep'" },
          'public.settings': { conflicts: 'ignore' },
        },
      },
    });
    const precheck = await runCli(['precheck', spec, '--json'], h.cliEnv);
    expect(precheck.stderr).toBe('');
    const items = (JSON.parse(precheck.stdout) as { items: Array<{ id: string; status: string; title: string }> }).items;
    expect(items.find((i) => i.id === 'objects-selection')?.status).toBe('pass');
    const renamed = items.find((i) => i.id === 'renamed-in-functions')!;
    expect(renamed.status).toBe('warning');
    expect(renamed.title).toContain('sales.customer_count() mentions sales, customers');

    const run = await runCli(['start', spec, '--wait', '--json'], h.cliEnv);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout).report as MigrationReport;
    const warnings = report.warnings.join('\n');
    expect(warnings).toMatch(/left out because they depend on something not migrated: .*view public\.product_notes/);
    expect(warnings).toMatch(/table constraint events_audit_id_fkey on public\.events/);
    expect(warnings).toMatch(/index public\.products_note_idx/);
    expect(warnings).toMatch(/not selected \(table-level selection\) in the schemas of selected tables: view "Mixed"\.leftover/);
    // A selected table brings the domain it uses from a schema that is not selected, and nothing else of it.
    const lib = await h.target.query<{ what: string }>(
      `SELECT 'type ' || typname AS what FROM pg_type WHERE typnamespace = 'lib'::regnamespace AND typtype = 'd'
        UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = 'lib'::regnamespace`,
      'app',
    );
    expect(lib).toEqual([{ what: 'type amount' }]);

    // Only the selection, under its target names.
    expect(await userRelations(h.target, 'app')).toEqual([
      'public."Éléments_pkey"',
      'public.elements',
      'public.events',
      'public.events_pkey',
      'public.products',
      'public.products_name_idx',
      'public.products_pkey',
      'public.settings',
      'public.settings_pkey',
      'public.unselected_view',
      'shop.clients',
      'shop.customers_pkey',
      'shop.order_totals',
      'shop.orders',
      'shop.orders_id_seq',
      'shop.orders_pkey',
      'shop.history',
      'shop.visits_2023',
      'shop.visits_2023_pkey',
      'shop.visits_2024',
      'shop.visits_2024_pkey',
      'shop.visits_pkey',
    ].sort());
    const equal = async (sourceQuery: string, targetQuery: string) => expect(await queryChecksum(h.target, 'app', targetQuery)).toBe(await queryChecksum(h.source, 'app', sourceQuery));
    await equal('SELECT id, name, tier::text FROM sales.customers', 'SELECT id, name, tier::text FROM shop.clients');
    await equal('SELECT id, customer_id, total, placed FROM sales.orders', 'SELECT id, customer_id, amount, placed FROM shop.orders');
    await equal('SELECT id, name, price FROM public.products', 'SELECT id, name, price FROM public.products');
    await equal(`SELECT * FROM public.events WHERE kind = 'keep'`, 'SELECT * FROM public.events');
    await equal('SELECT * FROM "Mixed"."Éléments"', 'SELECT * FROM public.elements');
    // A renamed, filtered partitioned table: its partitions follow, rows through the parent.
    await equal(`SELECT * FROM sales.visits WHERE at >= '2023-07-01'`, 'SELECT * FROM shop.history');
    const [parts] = await h.target.query<{ n: string }>(`SELECT count(*) AS n FROM pg_inherits WHERE inhparent = 'shop.history'::regclass`, 'app');
    expect(Number(parts.n)).toBe(2);
    // Dependent objects follow the renames.
    await equal('SELECT * FROM sales.order_totals', 'SELECT * FROM shop.order_totals');
    const [fk] = await h.target.query<{ def: string }>(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'shop.orders'::regclass AND contype = 'f'`, 'app');
    expect(fk.def).toBe('FOREIGN KEY (customer_id) REFERENCES shop.clients(id)');
    const [seq] = await h.target.query<{ d: string }>(`SELECT pg_get_expr(adbin, adrelid) AS d FROM pg_attrdef WHERE adrelid = 'shop.orders'::regclass`, 'app');
    expect(seq.d).toBe("nextval('shop.orders_id_seq'::regclass)");
    await h.target.query("INSERT INTO shop.orders (customer_id, amount) VALUES (1, 9.99)", 'app'); // trigger and sequence work
    const [next] = await h.target.query<{ placed: string | null; id: number }>('SELECT placed::text, id FROM shop.orders WHERE amount = 9.99', 'app');
    expect(next.placed).not.toBeNull();
    expect(next.id).toBe(3001);
    // The excluded column is gone, and so are the index and the view that needed it.
    const columns = await h.target.query<{ attname: string }>(`SELECT attname FROM pg_attribute WHERE attrelid = 'public.products'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, 'app');
    expect(columns.map((c) => c.attname)).toEqual(['id', 'name', 'price']);
    // No FK to the table left out; the filtered table has only matching rows.
    const eventFks = await h.target.query(`SELECT 1 FROM pg_constraint WHERE conrelid = 'public.events'::regclass AND contype = 'f'`, 'app');
    expect(eventFks).toHaveLength(0);

    // conflicts: ignore on one table: the target's rows win, the report counts them.
    const settings = await h.target.query<{ key: string; value: string }>('SELECT key, value FROM public.settings ORDER BY key', 'app');
    expect(settings).toHaveLength(21);
    expect(settings.find((s) => s.key === 'k1')?.value).toBe('target one');
    expect(settings.find((s) => s.key === 'k3')?.value).toBe('source 3');
    expect(settings.find((s) => s.key === 'zz')?.value).toBe('target only');
    const settingsReport = report.tables.find((t) => t.name === 'settings')!;
    expect(settingsReport.rows).toBe(18);
    expect(settingsReport.rowsKept).toBe(2);
    expect(report.validation.mismatches).toEqual([]);
  });

  it('moves the tables of a renamed schema that already exists in the target (public) and leaves the rest of it', async () => {
    await h.target.query('CREATE TABLE public.own_table (id int)', 'moved');
    const spec = writeSpec({
      source: h.source.url('app'),
      target: h.target.url('moved'),
      objects: { include: ['public.products', 'public.settings'], rename: { public: 'legacy' } },
    });
    const run = await runCli(['start', spec, '--wait', '--json'], h.cliEnv);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const relations = await userRelations(h.target, 'moved');
    expect(relations.filter((r) => r.startsWith('legacy.'))).toEqual(['legacy.products', 'legacy.products_name_idx', 'legacy.products_note_idx', 'legacy.products_pkey', 'legacy.settings', 'legacy.settings_pkey']);
    expect(relations).toContain('public.own_table');
    expect(await queryChecksum(h.target, 'moved', 'SELECT * FROM legacy.products')).toBe(await queryChecksum(h.source, 'app', 'SELECT * FROM public.products'));
  });

  it('moves a whole schema renamed into one the target already has: tables, views, functions and types', async () => {
    await h.target.query('CREATE TABLE public.own_table (id int)', 'whole');
    const spec = writeSpec({
      source: h.source.url('app'),
      target: h.target.url('whole'),
      precheck: { ignore: ['tables-without-key', 'renamed-in-functions'] },
      objects: { include: ['sales'], rename: { sales: 'public' } },
    });
    const run = await runCli(['start', spec, '--wait', '--json'], h.cliEnv);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const objects = await h.target.query<{ what: string }>(
      `SELECT kind || ' ' || name AS what FROM (
         SELECT 'relation' AS kind, relname AS name FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'v')
         UNION ALL SELECT 'function', proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace
         UNION ALL SELECT 'type', typname FROM pg_type WHERE typnamespace = 'public'::regnamespace AND typtype = 'e') o ORDER BY 1`,
      'whole',
    );
    expect(objects.map((o) => o.what)).toEqual([
      'function customer_count',
      'function touch',
      'relation customers',
      'relation order_totals',
      'relation orders',
      'relation own_table',
      'relation visits',
      'relation visits_2023',
      'relation visits_2024',
      'type tier',
    ]);
    const [sales] = await h.target.query<{ n: string }>(`SELECT count(*) AS n FROM pg_namespace WHERE nspname = 'sales'`, 'whole');
    expect(Number(sales.n)).toBe(0); // created by the migration, emptied by the moves, dropped
    expect(await queryChecksum(h.target, 'whole', 'SELECT * FROM public.order_totals')).toBe(await queryChecksum(h.source, 'app', 'SELECT * FROM sales.order_totals'));
  });
});
