/**
 * The precheck as a product: every item with what to do, as a table or JSON, exit codes;
 * notes never stop a migration; warnings stop it until the spec (or `pgferry start`'s prompt,
 * or --yes) acknowledges them, fails stop it whatever the spec says; a missing target database is created like the source (when the user may); bad target
 * names, TLS that is required but not there, and collations the target lacks are reported.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationReport } from '../common/plan';
import type { PrecheckJson } from '../client/precheck-output';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO, runCli, startHarness, tableChecksums, userRelations, writeSpec, type Harness } from './support/harness';

const EVERY_ITEM = [
  'source-connect', 'source-tls', 'target-connect', 'target-tls', 'target-database-name', 'target-database', 'server-versions',
  'pg-dump-version', 'encoding', 'database-locale', 'collations', 'source-privileges', 'target-privileges', 'target-table-privileges',
  'disk-space', 'extensions', 'c-functions', 'tables-without-key', 'lock-capacity', 'report-size', 'roles', 'large-objects', 'target-conflicts', 'source-writes',
];

describe('precheck', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'precheck', temporalAddress: inject('temporalAddress') });
    await h.source.createDatabase('app');
    await h.source.query(
      `CREATE TABLE customers (id int PRIMARY KEY, name text);
       INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 200) g;
       CREATE TABLE events_nokey (at int, what text);
       INSERT INTO events_nokey SELECT g, 'e' FROM generate_series(1, 50) g;`,
      'app',
    );
    // A table owned by a role the target lacks: with schema in the types, ownership and grants
    // would be lost, a risk of this migration, so a warning.
    await h.source.query(`CREATE ROLE precheck_owner NOLOGIN`);
    await h.source.createDatabase('owned');
    await h.source.query(`CREATE TABLE ledger (id int PRIMARY KEY, amount int); INSERT INTO ledger SELECT g, g FROM generate_series(1, 100) g; ALTER TABLE ledger OWNER TO precheck_owner`, 'owned');
  });

  afterAll(async () => {
    await h?.close();
  });

  const spec = (target: string, more: Record<string, unknown> = {}) => writeSpec({ source: h.source.url('app'), target, ...more });
  const precheckJson = async (file: string) => {
    const run = await runCli(['precheck', file, '--json'], h.cliEnv);
    return { code: run.code, json: JSON.parse(run.stdout) as PrecheckJson };
  };
  const item = (json: PrecheckJson, id: string) => json.items.find((i) => i.id === id);

  it('prints every item as JSON with a summary and names ignored ids that match nothing; a keyless table is a note that stops nothing', async () => {
    await h.target.createDatabase('shape');
    const file = spec(h.target.url('shape'), { precheck: { ignore: ['tabels-without-key'] } });
    const { code, json } = await precheckJson(file);
    expect(code).toBe(0);
    expect(json.items.map((i) => i.id)).toEqual(EVERY_ITEM);
    for (const i of json.items) {
      expect(Object.keys(i).sort()).toEqual(['acknowledged', 'advice', 'id', 'status', 'title']);
      expect(['pass', 'note', 'warning', 'fail']).toContain(i.status);
      expect(i.title.length).toBeGreaterThan(10);
      expect(i.advice.length).toBeGreaterThan(5);
    }
    expect(item(json, 'tables-without-key')).toMatchObject({ status: 'note', acknowledged: false });
    expect(item(json, 'tables-without-key')!.title).toContain('public.events_nokey');
    expect(item(json, 'disk-space')!.title).toMatch(/The source database takes .*; the target's data directory has .* free/);
    expect(json).toMatchObject({ ok: true, proceeds: true, ignoredNotFound: ['tabels-without-key'], ignoredFails: [], ignoreLine: 'precheck: { ignore: [] }' });
    expect(json.summary).toEqual({ total: EVERY_ITEM.length, pass: EVERY_ITEM.length - 1, note: 1, warning: 0, fail: 0, acknowledged: 0 });

    const text = await runCli(['precheck', file], h.cliEnv);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/NOTE\s+tables-without-key\s+1 table\(s\) have no primary key/);
    expect(text.stdout).toMatch(/PASS\s+target-database\s+The target database shape exists\./);
    expect(text.stdout).toContain('Ignored but not found (no such item in this run): tabels-without-key.');
    expect(text.stdout).toContain('1 note(s), 0 warning(s) (0 acknowledged), 0 fail.');
    expect(text.stdout).toContain('A migration with this spec would go ahead.');
  });

  it('notes a source with one replication slot free (enough to stream, not to verify), fails one with none', async () => {
    const spec = writeSpec({ source: h.source.url('app'), target: h.target.url('slots'), types: ['schema', 'full', 'incremental'] });
    const item = async () => (JSON.parse((await runCli(['precheck', spec, '--json'], h.cliEnv)).stdout) as PrecheckJson).items.find((i) => i.id === 'replication-slots')!;
    // The test servers have max_replication_slots = 10.
    const taken = Array.from({ length: 10 }, (_, i) => `precheck_taken_${i}`);
    try {
      for (const slot of taken.slice(0, 8)) await h.source.query(`SELECT pg_create_physical_replication_slot('${slot}')`);
      expect((await item()).status).toBe('pass');
      await h.source.query(`SELECT pg_create_physical_replication_slot('${taken[8]}')`);
      expect(await item()).toMatchObject({ status: 'note', title: '1 of 10 replication slots is free on the source: enough for the change stream.', advice: expect.stringContaining('verification round') });
      await h.source.query(`SELECT pg_create_physical_replication_slot('${taken[9]}')`);
      expect((await item()).status).toBe('fail');
    } finally {
      await h.source.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'precheck_taken_%'`);
    }
  });

  it('rejects a precheck.ignore that is not a list of item ids with exit code 2', async () => {
    const run = await runCli(['precheck', spec(h.target.url('shape'), { precheck: { ignore: 'tables-without-key' } })], h.cliEnv);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/- precheck\.ignore: /);
  });

  it('migrates a database with a keyless table with the minimal spec (source and target only)', async () => {
    await h.target.createDatabase('minimal');
    const run = await runCli(['start', writeSpec({ source: h.source.url('app'), target: h.target.url('minimal') }), '--wait', '--json'], h.cliEnv);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout).report as MigrationReport;
    expect(report.warnings.join('\n')).toMatch(/^tables-without-key: 1 table\(s\) have no primary key or unique constraint: public\.events_nokey\./m);
    expect(await tableChecksums(h.target, 'minimal')).toEqual(await tableChecksums(h.source, 'app'));
  });

  it('stops a migration at a warning that is not acknowledged before writing anything, and goes ahead once it is', async () => {
    await h.target.createDatabase('ack');
    const owned = (more: Record<string, unknown> = {}) => writeSpec({ source: h.source.url('owned'), target: h.target.url('ack'), ...more });
    const stopped = await runCli(['start', owned(), '--wait'], h.cliEnv);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/precheck stopped the migration before anything was written: 1 warning\(s\) not acknowledged: \[roles\] Role\(s\) missing on the target: precheck_owner\./);
    expect(stopped.stderr).toContain("confirm at `pgferry start`'s prompt (or pass --yes), or set in the spec: precheck: { ignore: [roles] }");
    expect(await userRelations(h.target, 'ack')).toEqual([]);

    const acknowledged = await runCli(['start', owned({ precheck: { ignore: ['roles'] } }), '--wait', '--json'], h.cliEnv);
    expect(acknowledged.stderr).toBe('');
    expect(acknowledged.code).toBe(0);
    const report = JSON.parse(acknowledged.stdout).report as MigrationReport;
    expect(report.warnings.join('\n')).toMatch(/^roles: Role\(s\) missing on the target: precheck_owner\./m);
    expect(await tableChecksums(h.target, 'ack')).toEqual(await tableChecksums(h.source, 'owned'));
  });

  it('shows the precheck and asks on a terminal before starting; --yes goes ahead without asking', async () => {
    // A terminal for the CLI: script(1) runs it on a pseudo-terminal and passes the answer through.
    const onTerminal = (args: string[], answer: string) =>
      new Promise<{ code: number; out: string }>((done) => {
        const command = [process.execPath, join(REPO, 'dist', 'client', 'cli.js'), ...args].map((a) => `'${a}'`).join(' ');
        const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, ...h.cliEnv, CI: '' } });
        let out = '';
        let answered = false;
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          // readline moves the cursor after the prompt: the question is there, not at the very end
          if (!answered && /\[y\/N\] /.test(out)) {
            answered = true;
            child.stdin.write(answer);
          }
        });
        child.on('close', (code) => done({ code: code ?? 1, out }));
      });
    await h.target.createDatabase('asked');
    const file = writeSpec({ source: h.source.url('owned'), target: h.target.url('asked') });

    const refused = await onTerminal(['start', file, '--wait'], 'n\n');
    expect(refused.out).toMatch(/WARN\s+roles\s+Role\(s\) missing on the target: precheck_owner\./);
    expect(refused.out).toContain('Go ahead despite 1 warning(s) (roles)? [y/N]');
    expect(refused.out).toContain('not started: the warnings were not accepted');
    expect(refused.code).toBe(1);
    expect(await userRelations(h.target, 'asked')).toEqual([]);

    const accepted = await onTerminal(['start', file, '--wait'], 'y\n');
    expect(accepted.out).toContain('Go ahead despite 1 warning(s) (roles)? [y/N]');
    expect(accepted.out).toMatch(/started migration pgferry-owned-/);
    expect(accepted.code).toBe(0);
    expect(await tableChecksums(h.target, 'asked')).toEqual(await tableChecksums(h.source, 'owned'));

    // No terminal: --yes shows the same table, asks nothing and goes ahead.
    await h.target.createDatabase('scripted');
    const scripted = await runCli(['start', writeSpec({ source: h.source.url('owned'), target: h.target.url('scripted') }), '--yes', '--wait'], h.cliEnv);
    expect(scripted.stdout).toMatch(/WARN\s+roles\s+/);
    expect(scripted.stdout).not.toContain('[y/N]');
    expect(scripted.code).toBe(0);
    expect(await tableChecksums(h.target, 'scripted')).toEqual(await tableChecksums(h.source, 'owned'));
  });

  it('does not let precheck.ignore pass a failing item, and says so', async () => {
    await h.target.createDatabase('conflict');
    await h.target.query(`CREATE TABLE customers (id int, note text); INSERT INTO customers VALUES (7, 'mine')`, 'conflict');
    const file = spec(h.target.url('conflict'), { precheck: { ignore: ['target-conflicts', 'tables-without-key'] } });
    const run = await runCli(['start', file, '--wait'], h.cliEnv);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/precheck failed: \[target-conflicts\] 1 table\(s\) already exist in the target: public\.customers\..* precheck\.ignore lists target-conflicts, but a failing item cannot be ignored/);
    expect(await userRelations(h.target, 'conflict')).toEqual(['public.customers']);
    expect(await h.target.query('SELECT * FROM customers', 'conflict')).toEqual([{ id: 7, note: 'mine' }]);

    const { code, json } = await precheckJson(file);
    expect(code).toBe(1);
    expect(json).toMatchObject({ ok: false, proceeds: false, ignoredFails: ['target-conflicts'] });
    expect(item(json, 'target-conflicts')).toMatchObject({ status: 'fail', acknowledged: false });
    expect(item(json, 'tables-without-key')).toMatchObject({ status: 'note', acknowledged: false }); // a note needs no acknowledging
  });

  it('creates a missing target database with the source database encoding and locale, then migrates into it', async () => {
    await h.source.query(`CREATE DATABASE icu TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'de-DE' LC_COLLATE 'C' LC_CTYPE 'C'`);
    await h.source.query(`CREATE TABLE words (id int PRIMARY KEY, w text); INSERT INTO words VALUES (1, 'Äpfel'), (2, 'Zebra'), (3, 'apfel')`, 'icu');
    const file = writeSpec({ source: h.source.url('icu'), target: h.target.url('created') });
    const { code, json } = await precheckJson(file);
    expect(code).toBe(0);
    expect(item(json, 'target-database')!.title).toMatch(/The target database created does not exist yet; the migration creates it/);
    expect(item(json, 'database-locale')).toMatchObject({ status: 'pass', title: expect.stringContaining('ICU de-DE') });
    expect(json.proceeds).toBe(true);

    const run = await runCli(['start', file, '--wait'], h.cliEnv);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const locale = `SELECT pg_encoding_to_char(encoding) AS enc, datcollate, datctype, datlocprovider, daticulocale FROM pg_database WHERE datname = $1`;
    expect(await h.target.query(locale, 'postgres', ['created'])).toEqual(await h.source.query(locale, 'postgres', ['icu']));
    expect(await h.target.query('SELECT w FROM words ORDER BY w', 'created')).toEqual([{ w: 'apfel' }, { w: 'Äpfel' }, { w: 'Zebra' }]);
  });

  it('fails, creating nothing, when the target database is missing and the target user may not create databases', async () => {
    await h.target.query('CREATE ROLE nocreate LOGIN');
    const file = spec(`postgres://nocreate@127.0.0.1:${h.target.port}/never`, { precheck: { ignore: ['tables-without-key'] } });
    const { code, json } = await precheckJson(file);
    expect(code).toBe(1);
    expect(item(json, 'target-connect')!.status).toBe('pass');
    expect(item(json, 'target-database')).toMatchObject({ status: 'fail', title: 'The target database never does not exist, and the target user nocreate may not create databases.' });
    expect(item(json, 'target-database')!.advice).toContain('ALTER ROLE nocreate CREATEDB;');
    const run = await runCli(['start', file, '--wait'], h.cliEnv);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/precheck failed: \[target-database\] The target database never does not exist/);
    expect(await h.target.query(`SELECT datname FROM pg_database WHERE datname = 'never'`)).toEqual([]);
  });

  it('checks, for a copy into existing tables (types: [full]), that they exist and that the target user may write them', async () => {
    await h.target.createDatabase('fullonly');
    const missing = await precheckJson(spec(h.target.url('fullonly'), { types: ['full'] }));
    expect(missing.code).toBe(1);
    expect(item(missing.json, 'target-table-privileges')).toMatchObject({ status: 'fail', title: '2 source table(s) do not exist in the target: public.customers, public.events_nokey.' });
    expect(item(missing.json, 'target-privileges')!.status).toBe('pass'); // no DDL without schema

    await h.target.query(`CREATE TABLE customers (id int PRIMARY KEY, name text); CREATE TABLE events_nokey (at int, what text);
                          CREATE ROLE writer LOGIN; GRANT INSERT, SELECT ON customers, events_nokey TO writer`, 'fullonly');
    const denied = await precheckJson(spec(`postgres://writer@127.0.0.1:${h.target.port}/fullonly`, { types: ['full'] }));
    expect(item(denied.json, 'target-table-privileges')).toMatchObject({ status: 'fail', title: 'The target user lacks INSERT, SELECT, TRUNCATE on 2 existing table(s): public.customers, public.events_nokey.' });
    await h.target.query('GRANT TRUNCATE ON customers, events_nokey TO writer', 'fullonly');
    const allowed = await precheckJson(spec(`postgres://writer@127.0.0.1:${h.target.port}/fullonly`, { types: ['full'] }));
    expect(item(allowed.json, 'target-table-privileges')!.status).toBe('pass');
  });

  it('fails a target database name PostgreSQL would cut, and a template', async () => {
    const long = `db_${'x'.repeat(61)}`;
    const { code, json } = await precheckJson(spec(h.target.url(long)));
    expect(code).toBe(1);
    expect(item(json, 'target-database-name')).toMatchObject({ status: 'fail', title: expect.stringMatching(/is 64 bytes long; PostgreSQL keeps at most 63/) });
    expect(item(json, 'target-connect')).toBeUndefined(); // not even tried: it could reach the database the name is cut to
    const template = await runCli(['precheck', spec(h.target.url('template1'))], h.cliEnv);
    expect(template.code).toBe(1);
    expect(template.stdout).toMatch(/FAIL\s+target-database-name\s+The target database template1 is a template/);
  });

  it('fails when sslmode requires TLS and the server does not offer it, and reports plain local connections', async () => {
    const { code, json } = await precheckJson(spec(`${h.target.url('shape')}?sslmode=require`));
    expect(code).toBe(1);
    expect(item(json, 'target-tls')).toMatchObject({ status: 'fail', title: `sslmode require requires TLS, but the target server 127.0.0.1:${h.target.port} does not offer it.` });
    expect(item(json, 'source-tls')).toMatchObject({ status: 'pass', title: 'The source connection does not use TLS; 127.0.0.1 is local.' });
  });

  it('names the columns whose collation the target lacks (fail) or has with another locale (warning)', async () => {
    await h.source.createDatabase('coll');
    await h.source.query(
      `CREATE COLLATION pg_catalog.regional (provider = icu, locale = 'de-DE');
       CREATE COLLATION public.german (provider = icu, locale = 'de-DE');
       CREATE TABLE people (id int PRIMARY KEY, name text COLLATE pg_catalog.regional, nick text COLLATE public.german);`,
      'coll',
    );
    await h.target.createDatabase('coll');
    const file = writeSpec({ source: h.source.url('coll'), target: h.target.url('coll') });
    const missing = await precheckJson(file);
    expect(missing.code).toBe(1);
    expect(item(missing.json, 'collations')).toMatchObject({
      status: 'fail',
      title: '1 collation(s) used on the source are not available on the target: pg_catalog.regional (ICU de-DE, used by public.people.name) does not exist on the target.',
    });

    await h.target.query(`CREATE COLLATION pg_catalog.regional (provider = icu, locale = 'fr-FR')`, 'coll');
    const differing = await precheckJson(file);
    expect(differing.code).toBe(0);
    expect(item(differing.json, 'collations')).toMatchObject({ status: 'warning', title: expect.stringContaining('pg_catalog.regional (ICU de-DE, used by public.people.name) is ICU fr-FR on the target') });

    await h.target.query(`DROP COLLATION pg_catalog.regional; CREATE COLLATION pg_catalog.regional (provider = icu, locale = 'de-DE')`, 'coll');
    const same = await precheckJson(file);
    expect(item(same.json, 'collations')).toMatchObject({ status: 'pass', title: expect.stringContaining('(public.german created by pre-data)') });

    // A target user who may not create temporary objects: the locale cannot be tried, so a warning.
    await h.target.query(`REVOKE TEMPORARY ON DATABASE coll FROM PUBLIC; CREATE ROLE notemp LOGIN`);
    const untried = await precheckJson(writeSpec({ source: h.source.url('coll'), target: `postgres://notemp@127.0.0.1:${h.target.port}/coll` }));
    expect(item(untried.json, 'collations')).toMatchObject({ status: 'warning', title: expect.stringMatching(/public\.german \(ICU de-DE, used by public\.people\.nick\) could not be tried on the target: permission denied/) });
  });
});
