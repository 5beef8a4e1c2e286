/**
 * conflicts: ignore keeps a table that already exists in the target: its own rows stay (a key
 * that exists on both sides keeps the target's row) and the source's other rows are added.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationReport } from '../common/plan';
import { runCli, startHarness, writeSpec, type Harness } from './support/harness';

describe('conflicts: ignore', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'conflicts', temporalAddress: inject('temporalAddress') });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query(
      `CREATE TABLE customers (id int PRIMARY KEY, name text);
       INSERT INTO customers SELECT g, 'source ' || g FROM generate_series(1, 100) g;
       CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers, total numeric);
       INSERT INTO orders SELECT g, 1 + g % 100, g * 1.5 FROM generate_series(1, 500) g;`,
      'app',
    );
    await h.target.query(
      `CREATE TABLE customers (id int PRIMARY KEY, name text);
       INSERT INTO customers VALUES (7, 'target seven'), (1000, 'target only');`,
      'app',
    );
  });

  afterAll(async () => {
    await h?.close();
  });

  it('keeps the existing table and its rows, adds the missing ones, migrates the rest', async () => {
    const spec = writeSpec({ source: h.source.url('app'), target: h.target.url('app'), conflicts: 'ignore', precheck: { ignore: ['target-conflicts'] } });
    const run = await runCli(['start', spec, '--wait', '--json'], h.cliEnv);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout).report as MigrationReport;
    expect(report.warnings.join('\n')).toMatch(/target-conflicts: 1 table\(s\) already exist in the target: public\.customers/);
    expect(report.warnings.join('\n')).toMatch(/1 table\(s\) existed in the target before/);

    const customers = await h.target.query<{ id: number; name: string }>('SELECT id, name FROM customers ORDER BY id', 'app');
    expect(customers).toHaveLength(101); // 100 from the source (7 kept as it was) + 1000
    expect(customers.find((c) => c.id === 7)?.name).toBe('target seven');
    expect(customers.find((c) => c.id === 8)?.name).toBe('source 8');
    expect(customers.find((c) => c.id === 1000)?.name).toBe('target only');
    const [orders] = await h.target.query<{ n: string }>('SELECT count(*) AS n FROM orders', 'app');
    expect(Number(orders.n)).toBe(500);
    // The new table got its foreign key to the table that was kept.
    const fks = await h.target.query(`SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = 'orders'::regclass`, 'app');
    expect(fks).toHaveLength(1);
  });
});
