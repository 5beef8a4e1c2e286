/**
 * Killing the worker in the middle of the data phase: a new worker finishes the migration and
 * the target holds exactly the source's rows — none lost, none doubled (a table without a key
 * would show duplicates in its checksum).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationProgress, MigrationReport } from '../common/plan';
import { runCli, startHarness, tableChecksums, waitFor, writeSpec, type Harness } from './support/harness';
import { progressQuery } from '../workflows/messages';

const SOURCE_SQL = `
CREATE TABLE events_nokey (n int, payload text);
INSERT INTO events_nokey SELECT i % 1000, repeat(md5(i::text), 4) FROM generate_series(1, 300000) i;
${[1, 2, 3, 4, 5]
  .map(
    (i) => `CREATE TABLE part${i} (id bigint PRIMARY KEY, body text, amount numeric(12,2));
INSERT INTO part${i} SELECT g, repeat(md5(g::text), 3), g / 7.0 FROM generate_series(1, 250000) g;`,
  )
  .join('\n')}
`;

describe('worker crash during the data phase', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'crash', temporalAddress: inject('temporalAddress') });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query(SOURCE_SQL, 'app');
  });

  afterAll(async () => {
    await h?.close();
  });

  it('resumes on a new worker and ends with exact data', async () => {
    // One table at a time, so the kill lands between finished and unfinished tables.
    const spec = writeSpec({ source: h.source.url('app'), target: h.target.url('app'), parallelism: { tables: 1 }, precheck: { ignore: ['tables-without-key'] } });
    const workflowId = `crash-${Date.now()}`;
    const started = await runCli(['start', spec, '--id', workflowId], h.cliEnv);
    expect(started.code).toBe(0);
    const handle = h.client.workflow.getHandle(workflowId);

    let atKill: MigrationProgress | undefined;
    await waitFor(
      'some tables copied and others not',
      async () => {
        const p = await handle.query(progressQuery);
        if (p.phase === 'data' && p.tablesDone >= 2 && p.tablesDone < p.tablesTotal) atKill = p;
        return atKill !== undefined;
      },
      120_000,
      50,
    );
    await h.worker.kill('SIGKILL');
    expect(atKill!.tablesDone).toBeLessThan(atKill!.tablesTotal);

    await h.restartWorker();
    const report = (await handle.result()) as MigrationReport;
    expect(report.validation.mismatches).toEqual([]);
    expect(report.warnings.join('\n')).toMatch(/snapshot .* was lost .*: \d+ tables \([\d.]+ [kMG]?B\) copied again/);
    // What had been copied under the lost snapshot, at least the tables done when it was killed.
    expect(report.redone!.tables).toBeGreaterThanOrEqual(atKill!.tablesDone);
    expect(report.redone!.bytes).toBeGreaterThanOrEqual(atKill!.bytesCopied);
    expect(await tableChecksums(h.target, 'app')).toEqual(await tableChecksums(h.source, 'app'));
    const [dups] = await h.target.query<{ n: string }>('SELECT count(*) AS n FROM events_nokey', 'app');
    expect(Number(dups.n)).toBe(300000);
  });
});
