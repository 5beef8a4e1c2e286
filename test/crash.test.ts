/**
 * Killing the worker (it holds the snapshot) in the middle of a full migration's data phase: a
 * new worker finishes the migration and the target holds exactly the source's rows — none lost,
 * none doubled (a table without a key would show duplicates in its checksum). The tables copied
 * before the kill are kept when nothing was committed on the source since; else all are copied
 * again under the new snapshot.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationProgress, MigrationReport } from '../common/plan';
import { runCli, startHarness, tableChecksums, waitFor, writeSpec, type Harness } from './support/harness';
import { progressQuery } from '../workflows/messages';

const SOURCE_SQL = `
-- The copy creates each part's trigger after its rows (early-triggers.ts); a table copied again
-- must drop it first, or every row copied again would be changed.
CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.amount := NEW.amount + 1; RETURN NEW; END $$;
CREATE TABLE events_nokey (n int, payload text);
INSERT INTO events_nokey SELECT i % 1000, repeat(md5(i::text), 4) FROM generate_series(1, 300000) i;
${[1, 2, 3, 4, 5]
  .map(
    // Each part refers to the one before: the copy adds a key once both are in (early-foreign-keys.ts).
    (i) => `CREATE TABLE part${i} (id bigint PRIMARY KEY, body text, amount numeric(12,2)${i > 1 ? `, prev bigint REFERENCES part${i - 1} (id)` : ''});
INSERT INTO part${i} SELECT g, repeat(md5(g::text), 3), g / 7.0${i > 1 ? ', g' : ''} FROM generate_series(1, 250000) g;
CREATE TRIGGER part${i}_bump BEFORE INSERT ON part${i} FOR EACH ROW EXECUTE FUNCTION bump();`,
  )
  .join('\n')}
`;

const TRIGGERS = `SELECT tgrelid::regclass::text AS tbl, tgname AS name, pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2`;
const FOREIGN_KEYS = `SELECT conrelid::regclass::text AS tbl, conname AS name, pg_get_constraintdef(oid) AS def, convalidated AS checked FROM pg_constraint WHERE contype = 'f' ORDER BY 1, 2`;

describe('worker crash during the data phase', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'crash', temporalAddress: inject('temporalAddress') });
    for (const db of ['app', 'app2']) {
      await h.source.createDatabase(db);
      await h.target.createDatabase(db);
      await h.source.query(SOURCE_SQL, db);
      // Statistics now, so that no autovacuum ANALYZE (a write) runs on the source during the test.
      await h.source.query('VACUUM ANALYZE', db);
    }
  });

  afterAll(async () => {
    await h?.close();
  });

  /**
   * Starts a one-lane full migration of `db` and kills the worker once some tables are copied
   * and others not, and the copy has added a foreign key: a table copied again must drop it
   * first (its TRUNCATE would be refused).
   */
  async function killMidCopy(db: string): Promise<{ workflowId: string; atKill: MigrationProgress }> {
    // One table at a time, so the kill lands between finished and unfinished tables.
    const spec = writeSpec({ source: h.source.url(db), target: h.target.url(db), parallelism: { tables: 1 }, precheck: { ignore: ['tables-without-key'] } });
    const workflowId = `crash-${db}-${Date.now()}`;
    const started = await runCli(['start', spec, '--id', workflowId], h.cliEnv);
    expect(started.code).toBe(0);
    const handle = h.client.workflow.getHandle(workflowId);
    let atKill: MigrationProgress | undefined;
    await waitFor(
      'some tables copied and others not',
      async () => {
        const p = await handle.query(progressQuery);
        if (p.phase !== 'data' || p.tablesDone < 2 || p.tablesDone >= p.tablesTotal) return false;
        if (!(await h.target.query(FOREIGN_KEYS, db)).length) return false;
        atKill = p;
        return true;
      },
      120_000,
      50,
    );
    await h.worker.kill('SIGKILL');
    expect(atKill!.tablesDone).toBeLessThan(atKill!.tablesTotal);
    return { workflowId, atKill: atKill! };
  }

  async function expectExact(db: string, report: MigrationReport) {
    expect(report.validation.mismatches).toEqual([]);
    expect(await tableChecksums(h.target, db)).toEqual(await tableChecksums(h.source, db));
    const [dups] = await h.target.query<{ n: string }>('SELECT count(*) AS n FROM events_nokey', db);
    const [rows] = await h.source.query<{ n: string }>('SELECT count(*) AS n FROM events_nokey', db);
    expect(Number(dups.n)).toBe(Number(rows.n));
    expect(await h.target.query(FOREIGN_KEYS, db)).toEqual(await h.source.query(FOREIGN_KEYS, db));
    expect(await h.target.query(TRIGGERS, db)).toEqual(await h.source.query(TRIGGERS, db));
  }

  it('resumes on a new worker, keeps what was copied (the source took no writes) and ends with exact data', async () => {
    const { workflowId } = await killMidCopy('app');
    await h.restartWorker();
    const report = (await h.client.workflow.getHandle(workflowId).result()) as MigrationReport;
    await expectExact('app', report);
    expect(report.warnings.join('\n')).toMatch(/snapshot .* was lost .*nothing was committed on the source since, so what was read under it is kept; the copy went on under /);
    expect(report.tables.every((t) => t.rows > 0)).toBe(true);
    // Only the table in flight is read again: less than what had been copied at the kill.
    expect(report.redone?.tables ?? 0).toBeLessThanOrEqual(1);
    // (what the dead attempt had read, by its last heartbeat): at most one table's bytes
    expect(report.redone?.bytes ?? 0).toBeLessThanOrEqual(Math.max(...report.tables.map((t) => t.bytes)));
  });

  it('copies everything again when the source took writes while the snapshot was lost', async () => {
    const { workflowId, atKill } = await killMidCopy('app2');
    await h.source.query(`INSERT INTO part1 VALUES (-1, 'written while the worker was down', 1); UPDATE events_nokey SET n = -n WHERE n = 7`, 'app2');
    await h.restartWorker();
    const report = (await h.client.workflow.getHandle(workflowId).result()) as MigrationReport;
    await expectExact('app2', report);
    expect(report.warnings.join('\n')).toMatch(/snapshot .* was lost .*the source took writes since, so the copies finished under it are not kept; copied again: \d+ tables \([\d.]+ [kMG]?B\)/);
    expect(report.redone!.tables).toBeGreaterThanOrEqual(atKill.tablesDone);
    expect(report.redone!.bytes).toBeGreaterThanOrEqual(atKill.bytesCopied);
    const [written] = await h.target.query<{ n: string }>(`SELECT count(*) AS n FROM part1 WHERE id = -1`, 'app2');
    expect(Number(written.n)).toBe(1);
  });
});
