/**
 * Validation of large objects against a real server: objects copied with the copy's own
 * building blocks (pieces, checksum chains, records in the target), then changed behind
 * pgferry's back. A truncated object fails validation by its size; a same-size change fails
 * it with validation: checksum; an object never recorded fails the count.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'pg';
import { copyObject } from '../activities/large-objects/copy-object';
import { readSizes } from '../activities/large-objects/large-object-sql';
import { ensureRecordsTable, writeRecord } from '../activities/large-objects/large-object-records';
import { validateLargeObjectsOn } from '../activities/large-objects/validate-large-objects';
import { startPostgres, type PgCluster } from '../launch/postgres';

const MB = 1024 * 1024;
const RUN = 'validation-test';
const SNAPSHOT = 'snap-1';

describe('large-object validation', () => {
  let pg: PgCluster;
  let src: Client;
  let tgt: Client;

  beforeAll(async () => {
    pg = await startPostgres({ name: 'lo-validation' });
    await pg.createDatabase('src');
    await pg.createDatabase('tgt');
    await pg.query(
      `SELECT lo_from_bytea(11, 'small'::bytea);
       SELECT lo_from_bytea(12, ''::bytea);
       SELECT lo_from_bytea(13, decode(repeat(md5('three pieces'), 2 * 65536 + 7), 'hex'));`,
      'src',
    );
    src = await pg.connect('src');
    tgt = await pg.connect('tgt');
    await ensureRecordsTable(tgt);
    await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const objects: Array<{ oid: number; size: number }> = [];
    await readSizes(src, 0, 4294967295, (page) => void objects.push(...page));
    expect(objects).toEqual([{ oid: 11, size: 5 }, { oid: 12, size: 0 }, { oid: 13, size: 2 * MB + 112 }]);
    await tgt.query('BEGIN');
    for (const o of objects) {
      const chain = await copyObject(src, tgt, { oid: o.oid, size: o.size, from: 0, chain: '' }, { withMd5: true });
      await writeRecord(tgt, RUN, { oid: o.oid, snapshot: SNAPSHOT, size: o.size, copied: o.size, chain, done: true });
    }
    await tgt.query('COMMIT');
    await src.query('COMMIT');
  });

  afterAll(async () => {
    await src?.end();
    await tgt?.end();
    await pg?.stop();
  });

  const validate = (mode: 'count' | 'checksum', expectedObjects = 3) => validateLargeObjectsOn(tgt, { mode, migrationId: RUN, snapshot: SNAPSHOT, expectedObjects });

  it('passes when every object is there with the source\'s bytes', async () => {
    expect(await validate('checksum')).toEqual({ mode: 'checksum', expectedObjects: 3, actualObjects: 3, bytes: 2 * MB + 117, mismatches: [], ok: true });
    expect((await validate('count')).ok).toBe(true);
  });

  it('fails, naming the object, when the copy never recorded one of the source\'s objects', async () => {
    const v = await validate('count', 4);
    expect(v.ok).toBe(false);
    expect(v.mismatches).toEqual([{ oid: 0, problem: "3 of the source's 4 large objects were recorded as copied" }]);
  });

  it('fails on a same-size change only with checksums, and on a truncated object by its size', async () => {
    await tgt.query(`SELECT lo_put(13, ${MB + 5}, '\\x00'::bytea)`);
    expect((await validate('count')).ok).toBe(true); // count mode compares sizes, not bytes
    expect((await validate('checksum')).mismatches).toEqual([{ oid: 13, problem: 'contents differ (checksum)' }]);

    await tgt.query(`SELECT lo_close(fd) FROM (SELECT lo_open(11, x'20000'::int) AS fd OFFSET 0) s, LATERAL (SELECT lo_truncate(s.fd, 2) OFFSET 0) t`);
    const v = await validate('count');
    expect(v.ok).toBe(false);
    expect(v.mismatches).toEqual([{ oid: 11, problem: '2 bytes in the target, 5 on the source' }]);

    await tgt.query('SELECT lo_unlink(12)');
    expect((await validate('count')).mismatches).toEqual([
      { oid: 11, problem: '2 bytes in the target, 5 on the source' },
      { oid: 12, problem: 'missing in the target' },
    ]);
  });
});
