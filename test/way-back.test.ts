/**
 * The way back (incremental.wayBack): the cutover prepares a reverse stream; the applications'
 * writes on the target after cutover are streamed back to the source (through a worker killed
 * mid-stream); `pgferry rollback` leaves the source equal to the target (checksums, sequences)
 * and writable, the target read-only; `pgferry finish` gives the way back up. Either way, and
 * when the migration is cancelled in fallback-ready, nothing is left on either side. The precheck refuses a target without wal_level = logical.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationProgress, MigrationReport } from '../common/plan';
import { startPostgres } from '../launch/postgres';
import { explainWorkflow, runCli, startHarness, waitForWorkflow, tableChecksums, waitFor, waitForPhase, writeSpec, type Harness } from './support/harness';
import { LOAD_SCHEMA_SQL, replicationLeftovers, startWriteLoad } from './support/write-load';
import type { PgCluster } from '../launch/postgres';

const SEQUENCES = ['accounts_id_seq', 'orders_id_seq', 'ticket_seq'];

async function sequenceValues(cluster: PgCluster, db: string): Promise<Record<string, string>> {
  const rows = await cluster.query<{ name: string; v: string }>(`SELECT sequencename AS name, coalesce(last_value, 0)::text AS v FROM pg_sequences WHERE sequencename = ANY($1) ORDER BY 1`, db, [SEQUENCES]);
  return Object.fromEntries(rows.map((r) => [r.name, r.v]));
}

/** What pgferry could leave behind: replication objects on both sides, origins and its bookkeeping schema. */
async function leftovers(cluster: PgCluster, db: string): Promise<string[]> {
  const origins = await cluster.query<{ n: string }>('SELECT roname AS n FROM pg_replication_origin', db);
  const schemas = await cluster.query<{ n: string }>(`SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE '\\_pgferry%'`, db);
  const slots = await cluster.query<{ n: string }>('SELECT slot_name AS n FROM pg_replication_slots WHERE database = $1', 'postgres', [db]);
  const left = (await replicationLeftovers(cluster, db)).filter((l) => !l.startsWith('slot '));
  return [...slots.map((s) => `slot ${s.n}`), ...left, ...origins.map((o) => `origin ${o.n}`), ...schemas.map((s) => `schema ${s.n}`)];
}

async function refusesWrites(cluster: PgCluster, db: string): Promise<boolean> {
  try {
    await cluster.query(`INSERT INTO docs VALUES (-1, 'probe', 'probe')`, db);
    await cluster.query(`DELETE FROM docs WHERE id = -1`, db);
    return false;
  } catch (err) {
    if (/read-only transaction/.test((err as Error).message)) return true;
    throw err;
  }
}

describe('the way back', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'way-back', temporalAddress: inject('temporalAddress'), targetLogical: true });
    for (const db of ['app', 'app2']) {
      await h.source.createDatabase(db);
      await h.target.createDatabase(db);
      // Every table needs an identity for the way back: the insert-only log gets FULL.
      await h.source.query(`${LOAD_SCHEMA_SQL}\nALTER TABLE audit_log REPLICA IDENTITY FULL;`, db);
    }
  });

  afterAll(async () => {
    await h?.close();
  });

  it('rolls back: target writes since cutover replayed on the source through a killed worker, source equal and writable, nothing left', async () => {
    const id = `way-back-rollback-${Date.now()}`;
    const spec = writeSpec({ source: h.source.url('app'), target: h.target.url('app'), types: ['schema', 'full', 'incremental'], validation: 'checksum', incremental: { wayBack: true } });
    expect((await runCli(['start', spec, '--id', id], h.cliEnv)).code).toBe(0);
    await waitForPhase(h.client, id, 'streaming');
    const sourceLoad = await startWriteLoad(h.source, 'app');
    await waitFor('source writes', async () => sourceLoad.committed() > 100, 60_000);
    await sourceLoad.stop();

    const cutover = await runCli(['cutover', id, '--lock-source'], h.cliEnv);
    expect(cutover.stderr).toBe('');
    expect(cutover.code).toBe(0);
    expect(cutover.stdout).toMatch(/Way back ready: target writes from LSN [0-9A-F]+\/[0-9A-F]+ on stream back to the source/);
    expect(cutover.stdout).toContain('The source stays read-only for applications until a rollback.');
    await waitForPhase(h.client, id, 'fallback-ready');
    expect(await refusesWrites(h.source, 'app')).toBe(true);
    const before = (await h.source.query<{ n: string }>(`SELECT count(*) AS n FROM accounts`, 'app'))[0].n;

    // The applications now write on the target; a worker dies while their writes stream back.
    const targetLoad = await startWriteLoad(h.target, 'app');
    await waitFor('target writes', async () => targetLoad.committed() > 150, 60_000);
    await waitForWorkflow(h.client, id, 'target writes on the source', async () => (await h.source.query<{ n: string }>(`SELECT count(*) AS n FROM accounts`, 'app'))[0].n !== before, 60_000);
    await h.worker.kill('SIGKILL');
    await waitFor('more target writes', async () => targetLoad.committed() > 400, 60_000);
    await h.restartWorker();
    const status = JSON.parse((await runCli(['status', id, '--json'], h.cliEnv)).stdout) as { progress: MigrationProgress };
    expect(status.progress.phase).toBe('fallback-ready');
    expect((await runCli(['status', id], h.cliEnv)).stdout).toContain(`pgferry rollback ${id}`);
    expect((await runCli(['cutover', id], h.cliEnv)).stderr).toMatch(/was cut over already \(phase fallback-ready\)/);

    // Rollback while the applications are still writing on the target: their sessions are ended.
    const rollback = await runCli(['rollback', id], h.cliEnv, 120_000);
    await targetLoad.stop();
    if (rollback.code !== 0) throw new Error(`rollback: ${rollback.stderr}\n${await explainWorkflow(h.client, id)}`);
    expect(rollback.stderr).toBe('');
    expect(rollback.code).toBe(0);
    expect(rollback.stdout).toMatch(/Rolled back at target LSN .*: the source is the primary again and writable/);
    expect(rollback.stdout).toContain('0 mismatches');
    const report = (await h.client.workflow.getHandle(id).result()) as MigrationReport;
    expect(report.wayBack).toMatchObject({ outcome: 'rolled-back', sourceUnlocked: true, targetLocked: true });
    if (report.wayBack?.outcome !== 'rolled-back') throw new Error('not rolled back');
    expect(report.wayBack.changesApplied).toBeGreaterThan(300);
    expect(report.wayBack.downtimeMs).toBeLessThan(30_000);

    expect(await tableChecksums(h.source, 'app')).toEqual(await tableChecksums(h.target, 'app'));
    expect(await sequenceValues(h.source, 'app')).toEqual(await sequenceValues(h.target, 'app'));
    expect(Number((await h.source.query<{ n: string }>(`SELECT count(*) AS n FROM accounts WHERE owner LIKE 'new %'`, 'app'))[0].n)).toBeGreaterThan(0);
    expect(await refusesWrites(h.source, 'app')).toBe(false);
    expect(await refusesWrites(h.target, 'app')).toBe(true);
    expect(await leftovers(h.target, 'app')).toEqual([]);
    expect(await leftovers(h.source, 'app')).toEqual([]);
  });

  it('finishes: the way back given up, nothing left on either side', async () => {
    const id = `way-back-finish-${Date.now()}`;
    const spec = writeSpec({ source: h.source.url('app2'), target: h.target.url('app2'), types: ['schema', 'full', 'incremental'], incremental: { wayBack: true } });
    expect((await runCli(['start', spec, '--id', id], h.cliEnv)).code).toBe(0);
    await waitForPhase(h.client, id, 'streaming');
    expect((await runCli(['finish', id], h.cliEnv)).stderr).toMatch(/phase streaming; finish is possible after cutover/);
    const cutover = await runCli(['cutover', id], h.cliEnv);
    expect(cutover.code).toBe(0);
    await waitForPhase(h.client, id, 'fallback-ready');
    await h.target.query(`UPDATE docs SET title = 'after cutover' WHERE id = 1`, 'app2');
    await waitFor('the change on the source', async () => (await h.source.query<{ t: string }>(`SELECT title AS t FROM docs WHERE id = 1`, 'app2'))[0].t === 'after cutover', 60_000);

    const finish = await runCli(['finish', id], h.cliEnv);
    expect(finish.stderr).toBe('');
    expect(finish.code).toBe(0);
    expect(finish.stdout).toMatch(/Way back given up after replaying 1 target changes/);
    const report = (await h.client.workflow.getHandle(id).result()) as MigrationReport;
    expect(report.wayBack).toMatchObject({ outcome: 'finished', changesApplied: 1 });
    expect(await leftovers(h.target, 'app2')).toEqual([]);
    expect(await leftovers(h.source, 'app2')).toEqual([]);
    expect(await refusesWrites(h.target, 'app2')).toBe(false);
  });

  it('drops the way back when the migration is cancelled in fallback-ready', async () => {
    await h.source.createDatabase('app3');
    await h.target.createDatabase('app3');
    await h.source.query(`CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 100) g;`, 'app3');
    const id = `way-back-cancel-${Date.now()}`;
    const spec = writeSpec({ source: h.source.url('app3'), target: h.target.url('app3'), types: ['schema', 'full', 'incremental'], incremental: { wayBack: true } });
    expect((await runCli(['start', spec, '--id', id], h.cliEnv)).code).toBe(0);
    await waitForPhase(h.client, id, 'streaming');
    expect((await runCli(['cutover', id], h.cliEnv)).code).toBe(0);
    await waitForPhase(h.client, id, 'fallback-ready');
    expect((await leftovers(h.target, 'app3')).length).toBeGreaterThan(0); // the slot and publication of the way back
    expect((await runCli(['cancel', id], h.cliEnv)).code).toBe(0);
    expect(await leftovers(h.target, 'app3')).toEqual([]);
    expect(await leftovers(h.source, 'app3')).toEqual([]);
  });

  it('is refused up front when the target cannot have one', async () => {
    const plain = await startPostgres({ name: 'way-back-plain' }); // wal_level = replica
    try {
      await plain.createDatabase('app');
      const spec = writeSpec({ source: h.source.url('app2'), target: plain.url('app'), types: ['schema', 'full', 'incremental'], incremental: { wayBack: true } });
      const precheck = await runCli(['precheck', spec], h.cliEnv);
      expect(precheck.code).not.toBe(0);
      expect(precheck.stdout).toMatch(/way-back-wal-level.*The target has wal_level = replica/);
      const renamed = writeSpec({ source: h.source.url('app2'), target: plain.url('app'), types: ['schema', 'full', 'incremental'], incremental: { wayBack: true }, objects: { rename: { public: 'shop' } } });
      const refused = await runCli(['start', renamed, '--id', `way-back-refused-${Date.now()}`], h.cliEnv);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/incremental\.wayBack: objects\.rename renames public/);
      expect(await plain.query(`SELECT 1 FROM pg_namespace WHERE nspname IN ('shop', '_pgferry')`, 'app')).toEqual([]);
    } finally {
      await plain.stop();
    }
  });
});
