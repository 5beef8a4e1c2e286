/**
 * A source that accepts TLS only: sslmode and sslrootcert from the spec reach both the worker's
 * own connections (node-postgres) and pg_dump / psql (libpq).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli, startHarness, tableChecksums, writeSpec, type Harness } from './support/harness';

describe('TLS', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'tls', temporalAddress: inject('temporalAddress'), sourceTlsOnly: true });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query(
      `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 5000) g;
       CREATE VIEW v AS SELECT count(*) FROM t;`,
      'app',
    );
  });

  afterAll(async () => {
    await h?.close();
  });

  it('migrates over verify-full TLS with the server certificate as root', async () => {
    const rootCert = join(h.source.dataDir, 'server.crt');
    const spec = writeSpec({
      source: `postgres://postgres@127.0.0.1:${h.source.port}/app?sslmode=verify-full&sslrootcert=${encodeURIComponent(rootCert)}`,
      target: h.target.url('app'),
    });
    const precheck = await runCli(['precheck', spec], h.cliEnv);
    expect(precheck.stdout).toMatch(/PASS\s+source-tls\s+The source connection uses TLS \(TLSv1\.[23], .*; sslmode verify-full\)\./);
    const run = await runCli(['start', spec, '--wait'], h.cliEnv);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(await tableChecksums(h.target, 'app')).toEqual(await tableChecksums(h.source, 'app'));
    expect(await h.target.query(`SELECT viewname FROM pg_views WHERE schemaname = 'public'`, 'app')).toEqual([{ viewname: 'v' }]);
  });

  it('says why a plain connection is refused', async () => {
    const spec = writeSpec({ source: `${h.source.url('app')}?sslmode=disable`, target: h.target.url('app') });
    const run = await runCli(['precheck', spec], h.cliEnv);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/FAIL\s+source-connect\s+Cannot connect to the source postgres@127\.0\.0\.1:\d+\/app: .*no encryption/);
    expect(run.stdout).toMatch(/FAIL\s+source-tls\s+The source server 127\.0\.0\.1:\d+ accepts only TLS connections, but sslmode is disable\./);
  });
});
