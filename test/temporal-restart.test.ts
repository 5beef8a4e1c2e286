/**
 * The Temporal server going down in the middle of the data phase: once it is back (same SQLite
 * file), the worker reconnects and the migration finishes with exact data.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MigrationReport } from '../common/plan';
import { runCli, startHarness, tableChecksums, temporalClient, waitFor, writeSpec, type Harness } from './support/harness';
import { startTemporalServer, type TemporalServer } from '../launch/temporal';
import { progressQuery } from '../workflows/messages';

describe('Temporal server restart', () => {
  let server: TemporalServer;
  let h: Harness;

  beforeAll(async () => {
    server = await startTemporalServer({ dbFile: join(mkdtempSync(join(tmpdir(), 'pgferry-temporal-')), 'temporal.db') });
    h = await startHarness({ name: 'restart', temporalAddress: server.address });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query(
      `CREATE TABLE big (id bigint PRIMARY KEY, body text);
       INSERT INTO big SELECT g, repeat(md5(g::text), 6) FROM generate_series(1, 1500000) g;
       CREATE TABLE other (id int PRIMARY KEY, v text);
       INSERT INTO other SELECT g, md5(g::text) FROM generate_series(1, 50000) g;`,
      'app',
    );
  });

  afterAll(async () => {
    await h?.close();
    await server?.stop();
  });

  it('resumes after the server comes back and copies exactly', async () => {
    const spec = writeSpec({ source: h.source.url('app'), target: h.target.url('app') });
    const workflowId = `restart-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', workflowId], h.cliEnv)).code).toBe(0);
    await waitFor(
      'the copy to start',
      async () => (await h.client.workflow.getHandle(workflowId).query(progressQuery)).tables.some((t) => t.state === 'copying'),
      60_000,
      50,
    );

    await server.stop();
    await new Promise((r) => setTimeout(r, 3000));
    await server.restart();

    // A new client: the old one's connection went away with the server.
    const client = await temporalClient(server.address);
    try {
      const report = (await client.workflow.getHandle(workflowId).result()) as MigrationReport;
      expect(report.validation.mismatches).toEqual([]);
      expect(await tableChecksums(h.target, 'app')).toEqual(await tableChecksums(h.source, 'app'));
    } finally {
      await client.connection.close();
    }
  });
});
