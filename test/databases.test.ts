/**
 * Several databases in one migration: a parent workflow with a child migration per database
 * (into a renamed target database that pgferry creates), a concurrency limit, a combined status
 * and report, one database cut over on its own and the others together.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MultiDatabaseProgress, MultiDatabaseReport } from '../common/databases';
import type { MigrationProgress } from '../common/plan';
import { runCli, startHarness, tableChecksums, waitForWorkflow, writeSpec, type Harness } from './support/harness';
import { replicationLeftovers } from './support/write-load';
import { multiProgressQuery, progressQuery } from '../workflows/messages';

describe('several databases', () => {
  let h: Harness;
  const databases = ['sales', 'hr', 'ops'];

  beforeAll(async () => {
    h = await startHarness({ name: 'databases', temporalAddress: inject('temporalAddress') });
    for (const [i, db] of databases.entries()) {
      await h.source.createDatabase(db);
      await h.source.query(
        `CREATE TABLE items (id int PRIMARY KEY, v text);
         INSERT INTO items SELECT g, '${db} ' || g FROM generate_series(1, ${2000 * (i + 1)}) g;
         CREATE TABLE ${db}_only (id serial PRIMARY KEY, at timestamptz DEFAULT '2024-01-01');
         INSERT INTO ${db}_only DEFAULT VALUES;`,
        db,
      );
    }
    await h.target.createDatabase('hr');
  });

  afterAll(async () => {
    await h?.close();
  });

  it('migrates each database in its own child workflow, with one combined status, report and cutover', async () => {
    const spec = writeSpec({
      source: h.source.url('postgres'),
      target: h.target.url('postgres'),
      types: ['schema', 'full', 'incremental'],
      databases: [{ source: 'sales', target: 'sales_2024' }, 'hr', 'ops'],
      parallelism: { databases: 2 },
      validation: 'checksum',
      precheck: { ignore: ['ddl-during-migration'] },
    });
    const id = `dbs-${Date.now()}`;
    const started = await runCli(['start', spec, '--id', id], h.cliEnv);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    const parent = h.client.workflow.getHandle(id);
    await waitForWorkflow(h.client, id, 'every database to stream', async () => (await parent.query(multiProgressQuery)).databases.every((d) => d.state === 'streaming'), 240_000, 300);
    // At most two at once: the third database started only once one of the first two streamed.
    const child = (db: string) => h.client.workflow.getHandle(`${id}/db-${db}`);
    const [sales, hr, ops] = await Promise.all(databases.map((db) => child(db).describe()));
    const firstStreams = await Promise.all(['sales', 'hr'].map(async (db) => {
      const p = await child(db).query(progressQuery);
      return p.startedAt + (p.phases ?? []).reduce((sum, ph) => sum + ph.ms, 0);
    }));
    expect(ops.startTime.getTime()).toBeGreaterThanOrEqual(Math.min(...firstStreams) - 1000);
    expect(ops.startTime.getTime()).toBeGreaterThan(Math.max(sales.startTime.getTime(), hr.startTime.getTime()));

    const status = await runCli(['status', id, '--json'], h.cliEnv);
    expect(status.code).toBe(0);
    const shown = JSON.parse(status.stdout) as { state: string; progress: MultiDatabaseProgress & { progress: Record<string, MigrationProgress> } };
    expect(shown.progress.databases.map((d) => [d.database, d.target, d.state])).toEqual([
      ['sales', 'sales_2024', 'streaming'],
      ['hr', 'hr', 'streaming'],
      ['ops', 'ops', 'streaming'],
    ]);
    expect(shown.progress.progress.sales.tablesTotal).toBe(2);

    for (const db of databases) await h.source.query(`UPDATE items SET v = v || ' changed' WHERE id % 10 = 0; INSERT INTO ${db}_only DEFAULT VALUES;`, db);
    // One database alone, through its own workflow...
    const alone = await runCli(['cutover', `${id}/db-ops`, '--json'], h.cliEnv);
    expect(alone.stderr).toBe('');
    expect(alone.code).toBe(0);
    // ...and the others together through the parent.
    const together = await runCli(['cutover', id, '--json'], h.cliEnv);
    expect(together.stderr).toBe('');
    expect(together.code).toBe(0);
    expect(Object.keys(JSON.parse(together.stdout)).sort()).toEqual(['hr', 'sales']);

    const report = (await parent.result()) as MultiDatabaseReport;
    expect(report.databases.map((d) => [d.database, d.state])).toEqual([
      ['sales', 'completed'],
      ['hr', 'completed'],
      ['ops', 'completed'],
    ]);
    expect(report.totalRows).toBe(2000 + 4000 + 6000 + 3);
    for (const db of databases) {
      const target = db === 'sales' ? 'sales_2024' : db;
      expect(await tableChecksums(h.target, target)).toEqual(await tableChecksums(h.source, db));
      expect(await replicationLeftovers(h.source, db)).toEqual([]);
    }
  });

  it('names the database that failed and still migrates the others', async () => {
    const spec = writeSpec({
      source: h.source.url('postgres'),
      target: h.target.url('postgres'),
      databases: [{ source: 'hr', target: 'hr_copy' }, { source: 'missing_db', target: 'm' }],
    });
    const run = await runCli(['start', spec, '--wait'], h.cliEnv);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/1 of 2 database\(s\) did not migrate: missing_db: .*missing_db/);
    expect(await tableChecksums(h.target, 'hr_copy')).toEqual(await tableChecksums(h.source, 'hr'));
  });
});
