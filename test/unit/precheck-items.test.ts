import { describe, expect, it } from 'vitest';
import { createDatabaseSql } from '../../activities/database/database-locale';
import { targetNameProblem } from '../../activities/precheck/database-checks';
import { spaceItem } from '../../activities/precheck/space-checks';
import { isLocalHost, tlsConnectFailure, tlsItem } from '../../activities/precheck/tls-checks';

const plain = { ssl: false, version: null, cipher: null };
const tls = { ssl: true, version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' };

describe('TLS items', () => {
  it('fails when sslmode requires TLS and the connection has none', () => {
    expect(tlsItem('target', { host: 'db.example', sslmode: 'require' }, plain)).toMatchObject({ id: 'target-tls', status: 'fail' });
  });
  it('warns when a remote host is reached in plain text, passes for a local one', () => {
    expect(tlsItem('source', { host: 'db.example', sslmode: 'prefer' }, plain)).toMatchObject({ id: 'source-tls', status: 'warning' });
    expect(tlsItem('source', { host: '10.0.0.5' }, plain).status).toBe('warning');
    expect(tlsItem('source', { host: '127.0.0.1' }, plain).status).toBe('pass');
    expect(tlsItem('source', { host: '/var/run/postgresql' }, plain).status).toBe('pass');
  });
  it('reports the TLS version in use, and advises verify-full when the certificate is not checked', () => {
    const item = tlsItem('source', { host: 'db.example', sslmode: 'require' }, tls);
    expect(item.status).toBe('pass');
    expect(item.title).toContain('TLSv1.3');
    expect(item.advice).toMatch(/verify-full/);
    expect(tlsItem('source', { host: 'db.example', sslmode: 'verify-full' }, tls).advice).toBe('Nothing to do.');
  });
  it('explains TLS refusals at connect time and ignores other errors', () => {
    const ref = { host: 'h', port: 5432, sslmode: 'require' as const };
    expect(tlsConnectFailure('target', ref, 'The server does not support SSL connections')?.title).toMatch(/does not offer it/);
    expect(tlsConnectFailure('source', { ...ref, sslmode: 'disable' }, 'no pg_hba.conf entry for host "127.0.0.1", user "postgres", database "app", no encryption')?.title).toMatch(/accepts only TLS/);
    expect(tlsConnectFailure('source', ref, 'self-signed certificate')?.status).toBe('fail');
    expect(tlsConnectFailure('source', ref, 'connect ECONNREFUSED 127.0.0.1:1')).toBeUndefined();
  });
  it('knows local hosts', () => {
    expect(['localhost', '127.0.0.1', '127.1.2.3', '::1', '/tmp'].every(isLocalHost)).toBe(true);
    expect(['db', '10.0.0.1', '127.example.com'].some(isLocalHost)).toBe(false);
  });
});

describe('target database name', () => {
  it('refuses names PostgreSQL would cut, counting bytes', () => {
    expect(targetNameProblem('a'.repeat(63))).toBeUndefined();
    expect(targetNameProblem('a'.repeat(64))?.title).toMatch(/64 bytes long/);
    expect(targetNameProblem('ä'.repeat(32))?.title).toMatch(/64 bytes long.*cut it to "ä{31}"/);
  });
  it('refuses the template databases', () => {
    expect(targetNameProblem('template1')?.title).toMatch(/is a template/);
    expect(targetNameProblem('template0')?.status).toBe('fail');
  });
});

describe('disk space', () => {
  const GB = 1024 ** 3;
  it('passes with room to spare, warns when the copy may not fit, passes with a note when unknown', () => {
    expect(spaceItem(10 * GB, { bytes: 100 * GB }, true).status).toBe('pass');
    expect(spaceItem(10 * GB, { bytes: 11 * GB }, true).status).toBe('warning');
    const unknown = spaceItem(10 * GB, { unknown: 'its data directory /x is not visible to the worker' }, true);
    expect(unknown.status).toBe('pass');
    expect(unknown.title).toMatch(/could not be read: its data directory/);
    expect(unknown.advice).toMatch(/room for about 12\.0 GB/);
    expect(spaceItem(10 * GB, { bytes: 1 }, false).status).toBe('pass');
  });
});

describe('CREATE DATABASE like the source', () => {
  it('uses template0, the encoding and the libc locale, and the ICU locale on 15+', () => {
    const libc = { encoding: 'UTF8', collate: 'de_DE.utf8', ctype: 'de_DE.utf8', provider: 'c' as const, locale: null };
    expect(createDatabaseSql('new "db"', libc, 150000)).toBe(`CREATE DATABASE "new ""db""" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'de_DE.utf8' LC_CTYPE 'de_DE.utf8'`);
    const icu = { ...libc, provider: 'i' as const, locale: 'de-DE' };
    expect(createDatabaseSql('x', icu, 160000)).toMatch(/ LOCALE_PROVIDER icu ICU_LOCALE 'de-DE'$/);
    expect(createDatabaseSql('x', icu, 140000)).not.toMatch(/LOCALE_PROVIDER/);
  });
});
