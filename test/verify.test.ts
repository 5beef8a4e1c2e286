/**
 * Online verification while streaming, under a live write load: `pgferry verify` finds a row
 * changed and a row deleted on the target behind pgferry's back and names the table and chunk;
 * `--repair` makes the target exact while the load goes on; `cutover --require-verified`
 * refuses (nothing changes) until a recent clean round, then cuts over to an exact copy. The
 * verifier's temporary slots never stay on the source.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client } from 'pg';
import type { MigrationProgress, MigrationReport } from '../common/plan';
import type { VerificationRecord } from '../common/verification';
import { queryChecksum, runCli, startHarness, tableChecksums, waitForPhase, waitForWorkflow, writeSpec, type Harness } from './support/harness';
import { LOAD_SCHEMA_SQL, replicationLeftovers, startWriteLoad, type WriteLoad } from './support/write-load';

const LEDGER_SQL = `
CREATE TABLE ledger (id bigserial PRIMARY KEY, amount numeric(12,2) NOT NULL, note text);
INSERT INTO ledger (amount, note) SELECT g % 1000, 'entry ' || g FROM generate_series(1, 200000) g;
`;

/** Updates ledger rows far from the ones the test tampers with, and inserts new ones. */
function ledgerLoad(h: Harness): { stop(): Promise<void>; committed(): number } {
  let running = true;
  let committed = 0;
  const loop = (async () => {
    const c = new Client({ host: h.source.host, port: h.source.port, user: h.source.user, database: 'app', password: h.source.password });
    c.on('error', () => undefined);
    await c.connect();
    while (running) {
      try {
        await c.query('BEGIN');
        await c.query(`UPDATE ledger SET amount = amount + 1 WHERE id = $1`, [160_001 + Math.floor(Math.random() * 40_000)]);
        await c.query(`INSERT INTO ledger (amount, note) VALUES ($1, 'new')`, [Math.floor(Math.random() * 100)]);
        await c.query('COMMIT');
        committed += 1;
      } catch {
        await c.query('ROLLBACK').catch(() => undefined);
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await c.end().catch(() => undefined);
  })();
  return {
    committed: () => committed,
    async stop() {
      running = false;
      await loop;
    },
  };
}

describe('online verification while streaming', () => {
  let h: Harness;
  let load: WriteLoad | undefined;
  let ledger: ReturnType<typeof ledgerLoad> | undefined;

  beforeAll(async () => {
    h = await startHarness({ name: 'verify', temporalAddress: inject('temporalAddress') });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query(LOAD_SCHEMA_SQL + LEDGER_SQL, 'app');
  });

  afterAll(async () => {
    await load?.stop();
    await ledger?.stop();
    await h?.close();
  });

  it('finds a changed and a deleted row, repairs them under a write load, and gates the cutover', async () => {
    load = await startWriteLoad(h.source, 'app');
    ledger = ledgerLoad(h);
    const spec = writeSpec({
      source: h.source.url('app'),
      target: h.target.url('app'),
      types: ['schema', 'full', 'incremental'],
      validation: 'checksum',
      incremental: { tables: { 'public.audit_log': { operations: ['insert'] } } },
      precheck: { ignore: ['tables-without-key', 'ddl-during-migration'] },
    });
    const id = `verify-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', id], h.cliEnv)).code).toBe(0);
    const handle = h.client.workflow.getHandle(id);
    await waitForPhase(h.client, id, 'streaming');
    const status = async () => JSON.parse((await runCli(['status', id, '--json'], h.cliEnv)).stdout) as { progress: MigrationProgress };
    await waitForWorkflow(h.client, id, 'changes to be applied', async () => ((await status()).progress.stream?.totalChanges ?? 0) > 100, 60_000, 500);
    const verify = async (...args: string[]) => {
      const started = Date.now();
      const r = await runCli(['verify', id, '--json', '--chunk-rows', '50000', ...args], h.cliEnv);
      const round = r.stdout ? (JSON.parse(r.stdout) as VerificationRecord) : undefined;
      console.log(`verify ${args.join(' ')}: exit ${r.code} in ${Date.now() - started} ms`, round && { lsn: round.lsn, rows: round.rows, chunks: round.chunks, ms: round.ms, pauseMs: round.pauseMs, preHoldMs: round.preHoldMs, attempts: round.attempts, repairPauseMs: round.repairPauseMs }, r.stderr);
      return { ...r, round };
    };

    // Before any round, a cutover that requires verification is refused, and nothing changes.
    const early = await runCli(['cutover', id, '--require-verified'], h.cliEnv);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/--require-verified: no verification round has run/);
    expect(early.stderr).toMatch(/nothing was changed/);

    // 1. A clean round while the load runs.
    const clean = await verify();
    expect(clean.code).toBe(0);
    expect(clean.round!.clean).toBe(true);
    expect(clean.round!.differingChunks).toBe(0);
    expect(clean.round!.rows).toBeGreaterThan(200_000);
    expect(clean.round!.chunks).toBeGreaterThan(clean.round!.tables); // the ledger is cut in key ranges
    expect(clean.round!.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    // The temporary slot went with the round.
    expect((await replicationLeftovers(h.source, 'app')).filter((x) => x.startsWith('slot ') && /_sv/.test(x))).toEqual([]);

    // 2. Behind pgferry's back: a row changed and a row deleted on the target.
    await h.target.query(`UPDATE ledger SET note = 'tampered' WHERE id = 150000`, 'app');
    await h.target.query(`DELETE FROM ledger WHERE id = 42`, 'app');
    const found = await verify();
    expect(found.code).toBe(1);
    expect(found.round!.clean).toBe(false);
    expect(found.round!.differingChunks).toBe(2);
    const byKey = Object.fromEntries(found.round!.differing.map((d) => [d.firstKey, d]));
    expect(byKey['42']).toMatchObject({ schema: 'public', name: 'ledger', keysDiffering: 1, targetRows: byKey['42'].sourceRows - 1 });
    expect(byKey['42'].chunk).toMatch(/^chunk 1\/\d+ \(id …–\d+\)$/);
    expect(byKey['150000']).toMatchObject({ schema: 'public', name: 'ledger', keysDiffering: 1 });
    expect(byKey['150000'].targetRows).toBe(byKey['150000'].sourceRows);
    expect(byKey['150000'].chunk).toMatch(/^chunk \d+\/\d+ \(id \d+–/);
    const text = await runCli(['verify', id, '--chunk-rows', '50000'], h.cliEnv);
    expect(text.stdout).toMatch(/public\.ledger chunk 1\/\d+ \(id …–\d+\): source \d+ rows, target \d+, 1 key\(s\) differ from 42/);

    // Not clean: the cutover is still refused.
    const refused = await runCli(['cutover', id, '--require-verified'], h.cliEnv);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/chunk\(s\) differing, e\.g\. public\.ledger chunk/);

    // 3. Repair while the load goes on; the next round finds everything equal.
    const repaired = await verify('--repair');
    expect(repaired.code).toBe(0);
    expect(repaired.round!.repairedChunks).toBe(2);
    expect(repaired.round!.differing.every((d) => d.repaired)).toBe(true);
    expect(repaired.round!.repairLsn).toBeDefined();
    const after = await verify();
    expect(after.code).toBe(0);
    expect(after.round!.clean).toBe(true);
    const [row] = await h.target.query<{ note: string }>(`SELECT note FROM ledger WHERE id = 150000`, 'app');
    expect(row.note).toBe('entry 150000');
    expect(await h.target.query(`SELECT 1 FROM ledger WHERE id = 42`, 'app')).toHaveLength(1);

    const live = (await status()).progress;
    expect(live.phase).toBe('streaming');
    expect(live.verification).toMatchObject({ rounds: 5, chunksDiffering: 6, chunksRepaired: 2 });
    expect(live.verification?.last?.clean).toBe(true);
    const statusText = await runCli(['status', id], h.cliEnv);
    expect(statusText.stdout).toMatch(/verification: 5 round\(s\), \d+ rows verified, 6 chunk\(s\) found differing, 2 repaired/);

    // 4. Verified, but not since a time after the last round: refused; since 10 minutes ago: cut over.
    const future = new Date(Date.now() + 60_000).toISOString();
    const tooOld = await runCli(['cutover', id, `--require-verified=${future}`], h.cliEnv);
    expect(tooOld.code).toBe(1);
    expect(tooOld.stderr).toMatch(/the last verification round started at .*, before /);
    expect((await status()).progress.phase).toBe('streaming');
    const bad = await runCli(['cutover', id, '--require-verified=yesterday'], h.cliEnv);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--require-verified: "yesterday" is neither/);

    expect(load.committed() + ledger.committed()).toBeGreaterThan(200);
    const cutover = await runCli(['cutover', id, '--lock-source', '--require-verified=10m'], h.cliEnv);
    await load.stop();
    await ledger.stop();
    expect(cutover.stderr).toBe('');
    expect(cutover.code).toBe(0);
    expect(cutover.stdout).toContain('0 mismatches');
    const report = (await handle.result()) as MigrationReport;
    expect(report.verification).toMatchObject({ rounds: 5, chunksRepaired: 2 });
    expect(await tableChecksums(h.target, 'app')).toEqual(await tableChecksums(h.source, 'app'));
    expect(await replicationLeftovers(h.source, 'app')).toEqual([]);
  });

  it('compares through renames, column lists and row filters, and repairs a mapped table', async () => {
    await h.source.createDatabase('mapped');
    await h.target.createDatabase('mapped');
    await h.source.query(
      `CREATE SCHEMA app;
       CREATE TABLE app.accounts (id int PRIMARY KEY, region text NOT NULL, balance int NOT NULL, secret text);
       ALTER TABLE app.accounts REPLICA IDENTITY FULL;
       INSERT INTO app.accounts SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g, 'secret ' || g FROM generate_series(1, 20000) g;
       CREATE TABLE app.skipme (id int PRIMARY KEY, v text);
       INSERT INTO app.skipme SELECT g, 'x' FROM generate_series(1, 100) g;`,
      'mapped',
    );
    const spec = writeSpec({
      source: h.source.url('mapped'),
      target: h.target.url('mapped'),
      types: ['schema', 'full', 'incremental'],
      validation: 'checksum',
      precheck: { ignore: ['ddl-during-migration'] },
      objects: {
        exclude: ['app.skipme', 'app.accounts.secret'],
        rename: { app: 'shop', 'app.accounts': 'accounts_eu' },
        tables: { 'app.accounts': { where: "region = 'eu'", columns: { balance: 'amount' } } },
      },
    });
    const id = `verify-mapped-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', id], h.cliEnv)).code).toBe(0);
    await waitForPhase(h.client, id, 'streaming');
    // Updates that move rows in and out of the filter, away from the rows tampered with below.
    let running = true;
    const writer = (async () => {
      while (running) {
        const id = 10_001 + Math.floor(Math.random() * 10_000);
        await h.source.query(`UPDATE app.accounts SET balance = balance + 1, region = CASE WHEN random() < 0.5 THEN 'eu' ELSE 'us' END WHERE id = $1`, 'mapped', [id]).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      const verify = async (...args: string[]) => {
        const r = await runCli(['verify', id, '--json', '--chunk-rows', '5000', ...args], h.cliEnv);
        return { ...r, round: r.stdout ? (JSON.parse(r.stdout) as VerificationRecord) : undefined };
      };
      const clean = await verify();
      expect(clean.stderr).toBe('');
      expect(clean.round).toMatchObject({ clean: true, tables: 1, differingChunks: 0 });
      expect(clean.round!.rows).toBeGreaterThan(9_000); // the eu rows only
      expect(clean.round!.chunks).toBeGreaterThan(1);

      await h.target.query(`UPDATE shop.accounts_eu SET amount = -1 WHERE id = 10; DELETE FROM shop.accounts_eu WHERE id = 4000`, 'mapped');
      const found = await verify();
      expect(found.code).toBe(1);
      // Both in the first key range (ids below 5001): one chunk, two keys, named by the source's names.
      expect(found.round!.differing).toHaveLength(1);
      expect(found.round!.differing[0]).toMatchObject({ schema: 'app', name: 'accounts', keysDiffering: 2, firstKey: '10' });
      expect(found.round!.differing[0].chunk).toMatch(/^chunk 1\/\d+ \(id …–\d+\)$/);
      expect(found.round!.differing[0].targetRows).toBe(found.round!.differing[0].sourceRows - 1);
      const repaired = await verify('--repair');
      expect(repaired.code).toBe(0);
      expect(repaired.round!.repairedChunks).toBe(1);
      expect((await verify()).round!.clean).toBe(true);
      // A paused stream cannot be held: refused at once, with the reason.
      expect((await runCli(['pause', id], h.cliEnv)).code).toBe(0);
      const paused = await runCli(['verify', id], h.cliEnv);
      expect(paused.code).toBe(1);
      expect(paused.stderr).toMatch(/the migration is paused/);
      expect((await runCli(['resume', id], h.cliEnv)).code).toBe(0);
    } finally {
      running = false;
      await writer;
    }
    const cutover = await runCli(['cutover', id, '--require-verified'], h.cliEnv);
    expect(cutover.stderr).toBe('');
    expect(cutover.stdout).toContain('0 mismatches');
    const source = await queryChecksum(h.source, 'mapped', `SELECT id, region, balance FROM app.accounts WHERE region = 'eu'`);
    expect(await queryChecksum(h.target, 'mapped', 'SELECT id, region, amount FROM shop.accounts_eu')).toBe(source);
  });
});
