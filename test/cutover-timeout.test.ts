/**
 * A time-boxed cutover (`pgferry cutover --timeout`): when the change stream cannot reach the
 * cutover point in time (here a target table locked by another session), the request fails saying so,
 * the source locked for it is writable again, the stream goes on, and a later cutover ends
 * with an exact target: nothing is lost either way.
 */
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationProgress } from '../common/plan';
import { runCli, startHarness, tableChecksums, waitFor, waitForPhase, writeSpec, type Harness } from './support/harness';
import { replicationLeftovers } from './support/write-load';

describe('cutover --timeout', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'cutover-timeout', temporalAddress: inject('temporalAddress') });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query(`CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 1000) g;`, 'app');
  });

  afterAll(async () => {
    await h?.close();
  });

  it('gives up in time with the source writable again and the stream going on, then cuts over exactly', async () => {
    const id = `cutover-timeout-${Date.now()}`;
    const spec = writeSpec({ source: h.source.url('app'), target: h.target.url('app'), types: ['schema', 'full', 'incremental'], validation: 'checksum' });
    expect((await runCli(['start', spec, '--id', id], h.cliEnv)).code).toBe(0);
    await waitForPhase(h.client, id, 'streaming');
    const status = async () => JSON.parse((await runCli(['status', id, '--json'], h.cliEnv)).stdout) as { progress: MigrationProgress };

    // A target that cannot take the changes: a session there holds a lock on the table the
    // stream applies to (pause and throttle would not do: a cutover lifts them).
    const blocker = new Client({ connectionString: h.target.url('app') });
    await blocker.connect();
    await blocker.query('BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
    await h.source.query(`INSERT INTO items SELECT g, 'backlog' FROM generate_series(1001, 3000) g`, 'app');

    const started = Date.now();
    const timedOut = await runCli(['cutover', id, '--lock-source', '--timeout', '3'], h.cliEnv);
    expect(timedOut.stdout + timedOut.stderr).toMatch(/cutover of .* failed/);
    expect(timedOut.code).toBe(1);
    expect(timedOut.stderr).toMatch(/had not reached the cutover position [0-9A-F]+\/[0-9A-F]+ within 3 s; the source was read-only for [\d.]+ s and is writable again; the stream goes on, nothing was lost/);
    expect(Date.now() - started).toBeLessThan(30_000);
    await blocker.query('COMMIT');
    await blocker.end();
    // Writable again, for a new session; and the migration streams on, ready for another cutover.
    await h.source.query(`INSERT INTO items VALUES (5000, 'after the abandoned cutover')`, 'app');
    expect((await status()).progress).toMatchObject({ phase: 'streaming', stream: { state: 'streaming' } });

    expect((await runCli(['cutover', id, '--timeout', '0'], h.cliEnv)).stderr).toMatch(/--timeout 0: give a number of seconds greater than 0/);
    await waitFor('the backlog to drain', async () => (await h.target.query(`SELECT 1 FROM items WHERE id = 5000`, 'app')).length === 1, 60_000, 200);
    const cutover = await runCli(['cutover', id, '--timeout', '60'], h.cliEnv);
    expect(cutover.stderr).toBe('');
    expect(cutover.code).toBe(0);
    expect(cutover.stdout).toContain('0 mismatches');
    await h.client.workflow.getHandle(id).result();
    expect(await tableChecksums(h.target, 'app')).toEqual(await tableChecksums(h.source, 'app'));
    expect(await replicationLeftovers(h.source, 'app')).toEqual([]);
  });
});
