/**
 * Incremental migration under a live write load: the full copy and the change stream both run
 * while the source takes inserts, updates (TOASTed values left unchanged included) and deletes on
 * keyed, keyless (REPLICA IDENTITY FULL) and partitioned tables. The worker is killed twice while
 * streaming (once as a 20,000-row transaction reaches it) and the replication connection is
 * terminated on the source; after cutover every table's checksum equals the source's, sequences
 * are at or above the source's, and nothing is left on the source.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationProgress, MigrationReport } from '../common/plan';
import { runCli, startHarness, tableChecksums, waitFor, writeSpec, type Harness } from './support/harness';
import { LOAD_SCHEMA_SQL, replicationLeftovers, startWriteLoad, type WriteLoad } from './support/write-load';
import { progressQuery } from '../workflows/messages';

describe('incremental migration', () => {
  let h: Harness;
  let load: WriteLoad | undefined;

  beforeAll(async () => {
    h = await startHarness({ name: 'cdc', temporalAddress: inject('temporalAddress') });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query(LOAD_SCHEMA_SQL, 'app');
  });

  afterAll(async () => {
    await load?.stop();
    await h?.close();
  });

  it('streams changes through crashes and a killed connection, and cuts over to an exact copy', async () => {
    load = await startWriteLoad(h.source, 'app');
    const spec = writeSpec({
      source: h.source.url('app'),
      target: h.target.url('app'),
      types: ['schema', 'full', 'incremental'],
      validation: 'checksum',
      incremental: { tables: { 'public.audit_log': { operations: ['insert'] } } },
      precheck: { ignore: ['tables-without-key', 'ddl-during-migration'] }, // events_nokey, audit_log
    });
    const workflowId = `cdc-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', workflowId], h.cliEnv)).code).toBe(0);
    const handle = h.client.workflow.getHandle(workflowId);

    // Cutover before the stream runs is refused by the update's validator, and changes nothing.
    const early = await runCli(['cutover', workflowId], h.cliEnv);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/cutover is possible once it streams changes/);

    await waitFor('the stream to run', async () => (await handle.query(progressQuery)).phase === 'streaming', 180_000, 100);
    const status = async () => JSON.parse((await runCli(['status', workflowId, '--json'], h.cliEnv)).stdout) as { progress: MigrationProgress };
    await waitFor('changes to be applied', async () => ((await status()).progress.stream?.totalChanges ?? 0) > 100, 60_000, 500);
    // The stream's replication connections as the source sees them (walsender pids).
    const streamConnections = async () => (await h.source.query<{ pid: number }>(`SELECT pid FROM pg_stat_replication WHERE application_name = 'pgferry stream'`)).map((r) => r.pid);

    // 1. Kill the worker while it streams.
    await h.worker.kill('SIGKILL');
    await waitFor(`the source to see the killed worker's stream connection close`, async () => (await streamConnections()).length === 0, 60_000, 100);
    await h.restartWorker();
    // 2. A 20,000-row source transaction, and a kill while it is being applied: once the stream
    // runs again (on the new worker, after the heartbeat timeout) and the source has sent the
    // whole transaction (its walsender's sent_lsn past the commit).
    await waitFor('the stream to resume on the new worker', async () => (await streamConnections()).length > 0, 120_000, 200);
    await h.source.query(`UPDATE accounts SET updated = now(), balance = balance + 0.01`, 'app');
    const [{ lsn: updateEnd }] = await h.source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    const sent = async () => (await h.source.query(`SELECT 1 FROM pg_stat_replication WHERE application_name = 'pgferry stream' AND sent_lsn >= $1::pg_lsn`, undefined, [updateEnd])).length > 0;
    await waitFor('the source to send the 20,000-row transaction to the stream', sent, 120_000, 50);
    await h.worker.kill('SIGKILL');
    await h.restartWorker();
    // 3. The source ends the replication connection, and the stream makes a new one.
    await waitFor('the stream to reconnect', async () => (await streamConnections()).length > 0, 120_000, 200);
    const [ended] = await streamConnections();
    await h.source.query(`SELECT pg_terminate_backend($1)`, undefined, [ended]);
    await waitFor('a new stream connection after the source ended the old one', async () => (await streamConnections()).some((pid) => pid !== ended), 120_000, 200);

    const live = (await status()).progress;
    expect(live.phase).toBe('streaming');
    expect(live.stream?.appliedLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(live.stream?.tables.map((t) => t.name)).toEqual(expect.arrayContaining(['accounts', 'docs', 'events_nokey', 'audit_log']));
    // Insert-only tables get a publication of their own that publishes nothing else.
    const pubs = await h.source.query<{ pubname: string; pubupdate: boolean }>('SELECT pubname, pubupdate FROM pg_publication ORDER BY 1', 'app');
    expect(pubs.map((p) => p.pubupdate)).toEqual([true, false]);
    expect(pubs[1].pubname).toBe(`${pubs[0].pubname}_i`);

    // Cutover while the application still writes: --lock-source makes the source read-only
    // for new transactions and waits for the running ones, so the cutover point is final.
    expect(load.committed()).toBeGreaterThan(200);
    const cutover = await runCli(['cutover', workflowId, '--lock-source'], h.cliEnv);
    await load.stop();
    expect(cutover.stderr).toBe('');
    expect(cutover.code).toBe(0);
    expect(cutover.stdout).toMatch(/Downtime \d+\.\d+ s/);
    expect(cutover.stdout).toContain('0 mismatches');
    expect(cutover.stdout).toContain('source made read-only');
    const [ro] = await h.source.query<{ v: string }>(`SELECT current_setting('default_transaction_read_only') AS v`, 'app');
    expect(ro.v).toBe('on');

    const report = (await handle.result()) as MigrationReport;
    expect(report.cutover?.validation.mismatches).toEqual([]);
    expect(report.cutover?.validation.mode).toBe('checksum');
    expect(report.cutover?.changesApplied).toBeGreaterThan(20_000);
    expect(await tableChecksums(h.target, 'app')).toEqual(await tableChecksums(h.source, 'app'));

    const seq = `SELECT last_value::bigint AS v FROM ticket_seq`;
    const [s] = await h.source.query<{ v: string }>(seq, 'app');
    const [t] = await h.target.query<{ v: string }>(seq, 'app');
    expect(Number(t.v)).toBeGreaterThanOrEqual(Number(s.v));
    expect(await replicationLeftovers(h.source, 'app')).toEqual([]);
    // The bookkeeping (and with it the stream's fence row) is gone from the target.
    expect(await h.target.query(`SELECT 1 FROM pg_namespace WHERE nspname = '_pgferry'`, 'app')).toEqual([]);
  });
});
