/**
 * indexBuild.workers: idle (the default). A big table's indexes are built after its rows, in
 * its copy's session; once no table is left to start, the lanes with nothing to copy lend
 * their cores: the session's max_parallel_maintenance_workers is their number. Here one table
 * and three lanes: two idle. An index whose expression fails unless it is built with those
 * settings (and indexBuild.memory's default, 1GB) proves what the build ran with.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationReport } from '../common/plan';
import { buildProbeSql } from './support/build-probe';
import { runCli, startHarness, writeSpec, type Harness } from './support/harness';

describe('indexBuild: idle lanes', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'index-build', temporalAddress: inject('temporalAddress') });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query(
      `-- above the size (8 MB) whose statements ride in the COPY's own query
       CREATE TABLE events (id bigint PRIMARY KEY, body text);
       INSERT INTO events SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 120000) g;
       ${buildProbeSql('build_probe', { max_parallel_maintenance_workers: '2', maintenance_work_mem: '1GB' })}
       CREATE INDEX events_probe_idx ON events (build_probe(id));`,
      'app',
    );
    const [size] = await h.source.query<{ bytes: string }>(`SELECT pg_table_size('events') AS bytes`, 'app');
    expect(Number(size.bytes)).toBeGreaterThan(8 * 1024 * 1024);
  });

  afterAll(async () => {
    await h?.close();
  });

  it('builds the last table’s indexes with the idle lanes as parallel workers', async () => {
    const spec = writeSpec({ source: h.source.url('app'), target: h.target.url('app'), parallelism: { tables: 3 }, retry: { otherMinutes: 0.5 } });
    const run = await runCli(['start', spec, '--wait', '--json'], h.cliEnv);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout).report as MigrationReport;
    expect(report.tables).toMatchObject([{ name: 'events', rows: 120000 }]);
    const valid = await h.target.query<{ ok: boolean }>(`SELECT indisvalid AS ok FROM pg_index WHERE indexrelid = 'events_probe_idx'::regclass`, 'app');
    expect(valid).toEqual([{ ok: true }]);
  });
});
