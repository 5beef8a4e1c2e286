// The COPY relay between two real PostgreSQL connections: rows arrive exactly (binary and text,
// rows far bigger than a socket read), the counts of both ends agree, and a copy that breaks
// off on either side, or in the middle of a message, fails with its cause and leaves nothing.
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { Client } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { agreedRowCount, agreedRowCounts, CopyInRelay, CopyOutRelay } from '../activities/copy/copy-relay';
import { startPostgres, type PgCluster } from '../launch/postgres';

let pg: PgCluster;
let src: Client;
let tgt: Client;

const TABLE = `CREATE TABLE items (id bigint, label text, doc jsonb, amount numeric(12,2), at timestamptz, tags int[], blob bytea, note text)`;

beforeAll(async () => {
  pg = await startPostgres({ name: 'copy-relay' });
  await pg.createDatabase('relay_src');
  await pg.createDatabase('relay_tgt');
  await pg.query(
    `${TABLE};
     INSERT INTO items SELECT g, 'label ' || g || E'\\ttab\\nnewline', jsonb_build_object('g', g, 'a', jsonb_build_array(g, 'x')),
            g / 7.0, TIMESTAMPTZ '2024-01-01' + g * interval '1 minute', ARRAY[g, g % 5, -g],
            decode(md5(g::text), 'hex'), CASE WHEN g % 3 = 0 THEN NULL ELSE repeat('é', g % 50) END
       FROM generate_series(1, 20000) g;
     -- rows much bigger than a socket read (64 KB), so messages straddle many chunks
     INSERT INTO items SELECT 100000 + g, repeat('big', 70000), NULL, 1, now(), NULL, decode(repeat('ab', 100000), 'hex'), NULL FROM generate_series(1, 5) g;`,
    'relay_src',
  );
  await pg.query(`${TABLE}; ALTER TABLE items ADD CONSTRAINT small_ids CHECK (id < 1000000)`, 'relay_tgt');
  src = await pg.connect('relay_src');
  tgt = await pg.connect('relay_tgt');
});

afterAll(async () => {
  await src?.end();
  await tgt?.end();
  await pg?.stop();
});

beforeEach(async () => {
  await pg.query('TRUNCATE items', 'relay_tgt');
});

const checksum = (db: string) => pg.query<{ sum: string; n: string }>(`SELECT count(*) AS n, sum(hashtextextended(t::text, 0)::numeric)::text AS sum FROM items t`, db).then((rows) => rows[0]);

async function relay(copyOut: string, copyIn: string, binary: boolean, ...stages: Transform[]) {
  const reader = src.query(new CopyOutRelay(copyOut, binary));
  const writer = tgt.query(new CopyInRelay(copyIn));
  await pipeline([reader, ...stages, writer]);
  return { reader, writer };
}

describe('CopyOutRelay → CopyInRelay', () => {
  it.each([
    ['binary', true],
    ['text', false],
  ])('copies every row exactly (%s format) and both ends count them', async (format, binary) => {
    const { reader, writer } = await relay(`COPY items TO STDOUT (FORMAT ${format})`, `COPY items FROM STDIN (FORMAT ${format})`, binary);
    expect(writer.rowCounts).toEqual([20005]);
    expect(reader.rows).toBe(20005);
    expect(await reader.sourceCounts).toEqual([20005]);
    expect(await agreedRowCount(reader, writer)).toBe(20005);
    expect(reader.bytes).toBeGreaterThan(5 * 210_000);
    expect(await checksum('relay_tgt')).toEqual(await checksum('relay_src'));
    // both connections are back in pg's hands
    expect((await src.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect((await tgt.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('copies when the bytes reach the target in pieces of 3', async () => {
    const pieces = new Transform({
      transform(chunk: Buffer, _e, done) {
        for (let i = 0; i < chunk.length; i += 3) this.push(chunk.subarray(i, i + 3));
        done();
      },
    });
    await relay('COPY (SELECT * FROM items WHERE id <= 300 OR id > 100000) TO STDOUT (FORMAT binary)', 'COPY items FROM STDIN (FORMAT binary)', true, pieces);
    expect(Number((await checksum('relay_tgt')).n)).toBe(305);
  });

  it("tells a lost row by the two ends' counts: agreedRowCount, which copy-unit checks after every table, refuses", async () => {
    let first = true;
    const dropFirstRow = new Transform({
      transform(chunk: Buffer, _e, done) {
        if (!first) return done(null, chunk);
        first = false;
        done(null, chunk.subarray(1 + chunk.readUInt32BE(1))); // the first CopyData message: type byte + length
      },
    });
    const { reader, writer } = await relay('COPY items TO STDOUT (FORMAT text)', 'COPY items FROM STDIN (FORMAT text)', false, dropFirstRow);
    expect(await reader.sourceCounts).toEqual([20005]);
    expect(writer.rowCounts).toEqual([20004]);
    await expect(agreedRowCount(reader, writer)).rejects.toThrow('the source sent 20005 rows, the target took 20004');
  });

  it('fails cleanly on a target client that lost its connection before the copy (pg never submits it)', async () => {
    await pg.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'relay_tgt' AND pid <> pg_backend_pid()`);
    await expect(tgt.query('SELECT 1')).rejects.toThrow();
    await expect(relay('COPY items TO STDOUT (FORMAT binary)', 'COPY items FROM STDIN (FORMAT binary)', true)).rejects.toThrow();
    await tgt.end().catch(() => undefined);
    tgt = await pg.connect('relay_tgt');
    await reconnectSourceIfClosed();
    expect((await tgt.query('SELECT 8 AS eight')).rows).toEqual([{ eight: 8 }]);
  });

  it('fails with the source error, and the target keeps nothing', async () => {
    await tgt.query('BEGIN');
    const failing = `COPY (SELECT id, label, doc, amount, at, tags, blob, CASE WHEN id < 15000 THEN note ELSE (1 / (id - id))::text END FROM items ORDER BY id) TO STDOUT (FORMAT binary)`;
    await expect(relay(failing, 'COPY items FROM STDIN (FORMAT binary)', true)).rejects.toThrow(/division by zero/);
    await tgt.query('ROLLBACK').catch(() => undefined);
    expect((await checksum('relay_tgt')).n).toBe('0');
    expect((await src.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    expect((await tgt.query('SELECT 7 AS seven')).rows).toEqual([{ seven: 7 }]);
  });

  it('fails with the target error (a CHECK the rows break), and the target keeps nothing', async () => {
    await tgt.query('ALTER TABLE items DROP CONSTRAINT IF EXISTS small_ids; ALTER TABLE items ADD CONSTRAINT small_ids CHECK (id < 10000)');
    try {
      await expect(relay('COPY items TO STDOUT (FORMAT binary)', 'COPY items FROM STDIN (FORMAT binary)', true)).rejects.toThrow(/small_ids/);
      expect((await checksum('relay_tgt')).n).toBe('0');
      expect((await tgt.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
    } finally {
      await reconnectSourceIfClosed();
      await tgt.query('ALTER TABLE items DROP CONSTRAINT small_ids; ALTER TABLE items ADD CONSTRAINT small_ids CHECK (id < 1000000)');
    }
  });

  it('sends CopyFail when a stage gives up between messages: the target connection stays usable', async () => {
    const refuse = new Transform({
      transform(_chunk, _e, done) {
        done(new Error('stage gave up'));
      },
    });
    await expect(relay('COPY items TO STDOUT (FORMAT binary)', 'COPY items FROM STDIN (FORMAT binary)', true, refuse)).rejects.toThrow(/stage gave up/);
    expect((await tgt.query('SELECT 4 AS four')).rows).toEqual([{ four: 4 }]);
    expect((await checksum('relay_tgt')).n).toBe('0');
    await reconnectSourceIfClosed();
  });

  it('completes a message cut by a stage that gives up, then sends CopyFail: the connection stays in step', async () => {
    let passed = 0;
    const cut = new Transform({
      transform(chunk: Buffer, _e, done) {
        if (passed > 0) return done(new Error('cut mid-row'));
        passed += 1;
        done(null, chunk.subarray(0, 27)); // the binary header and part of the first row
      },
    });
    await expect(relay('COPY items TO STDOUT (FORMAT binary)', 'COPY items FROM STDIN (FORMAT binary)', true, cut)).rejects.toThrow(/cut mid-row/);
    expect((await tgt.query('SELECT 5 AS five')).rows).toEqual([{ five: 5 }]);
    expect((await checksum('relay_tgt')).n).toBe('0');
    await reconnectSourceIfClosed();
  });

  it('stays in step when the target refuses a row while a big row is cut in the middle', async () => {
    // the 5 big rows (210 KB each) come last; the CHECK refuses the first of them
    await tgt.query('ALTER TABLE items DROP CONSTRAINT small_ids; ALTER TABLE items ADD CONSTRAINT small_ids CHECK (id < 100000)');
    try {
      await expect(relay('COPY (SELECT * FROM items ORDER BY id) TO STDOUT (FORMAT binary)', 'COPY items FROM STDIN (FORMAT binary)', true)).rejects.toThrow(/small_ids/);
      expect((await tgt.query('SELECT 6 AS six')).rows).toEqual([{ six: 6 }]);
      expect((await checksum('relay_tgt')).n).toBe('0');
    } finally {
      await reconnectSourceIfClosed();
      await tgt.query('ALTER TABLE items DROP CONSTRAINT small_ids; ALTER TABLE items ADD CONSTRAINT small_ids CHECK (id < 1000000)');
    }
  });
});

describe('several tables in one query on each side', () => {
  const PARTS = [0, 1, 300, 5000]; // rows of part_1 .. part_4
  const parts = PARTS.map((_, i) => `part_${i + 1}`);
  const copyOut = (format: string) => parts.map((p) => `COPY ${p} TO STDOUT (FORMAT ${format})`).join(';\n');
  const copyIn = (format: string) => parts.map((p) => `COPY ${p} FROM STDIN (FORMAT ${format});\nANALYZE ${p}`).join(';\n');
  const partSums = (db: string) =>
    pg.query<{ sums: string }>(parts.map((p) => `SELECT '${p}' || ':' || count(*) || ':' || coalesce(sum(hashtextextended(t::text, 0)), 0) AS sums FROM ${p} t`).join(' UNION ALL '), db).then((r) => r.map((x) => x.sums));

  beforeAll(async () => {
    const create = parts.map((p) => `CREATE TABLE ${p} (id int, label text, doc jsonb)`).join(';');
    await pg.query(
      `${create}; ${PARTS.map((n, i) => `INSERT INTO part_${i + 1} SELECT g, 'row ' || g || E'\\t', jsonb_build_object('g', g) FROM generate_series(1, ${n}) g`).join(';')}`,
      'relay_src',
    );
    await pg.query(`${create}; ALTER TABLE part_3 ADD CONSTRAINT part_3_small CHECK (id < 1000)`, 'relay_tgt');
  });

  beforeEach(async () => {
    await reconnectSourceIfClosed();
    await pg.query(`TRUNCATE ${parts.join(', ')}; ALTER TABLE part_3 DROP CONSTRAINT IF EXISTS part_3_small; ALTER TABLE part_3 ADD CONSTRAINT part_3_small CHECK (id < 1000)`, 'relay_tgt');
  });

  async function relayParts(out: string, into: string, binary: boolean, ...stages: Transform[]) {
    const reader = src.query(new CopyOutRelay(out, binary, parts.length));
    const writer = tgt.query(new CopyInRelay(into));
    const started: number[] = [];
    reader.on('copy', (i: number) => started.push(i));
    await pipeline([reader, ...stages, writer]);
    return { reader, writer, started };
  }

  it.each([
    ['binary', true],
    ['text', false],
  ])('copies each table exactly (%s), with statements between, and both ends count each', async (format, binary) => {
    const { reader, writer, started } = await relayParts(copyOut(format), copyIn(format), binary);
    expect(await agreedRowCounts(reader, writer, parts)).toEqual(PARTS);
    expect(writer.rowCounts).toEqual(PARTS);
    expect(reader.finished.map((f) => f.rows)).toEqual(PARTS);
    expect(reader.rows).toBe(PARTS.reduce((a, b) => a + b, 0));
    expect(started).toEqual([0, 1, 2, 3]);
    expect(await partSums('relay_tgt')).toEqual(await partSums('relay_src'));
    // the statements between the copies ran: every table has statistics now
    const analyzed = await pg.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_user_tables WHERE relname LIKE 'part_%' AND last_analyze IS NOT NULL`, 'relay_tgt');
    expect(analyzed[0].n).toBe('4');
    expect((await src.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect((await tgt.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('fails with the target error in the third table, and the target keeps nothing of any', async () => {
    await pg.query(`INSERT INTO part_3 SELECT 5000 + g FROM generate_series(1, 3) g`, 'relay_src');
    try {
      await tgt.query('BEGIN');
      await expect(relayParts(copyOut('binary'), copyIn('binary'), true)).rejects.toThrow(/part_3_small/);
      await tgt.query('ROLLBACK');
      expect((await partSums('relay_tgt')).map((s) => s.split(':')[1])).toEqual(['0', '0', '0', '0']);
      expect((await tgt.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
    } finally {
      await pg.query('DELETE FROM part_3 WHERE id > 5000', 'relay_src');
    }
  });

  it('fails with the source error in the second table, and the target keeps nothing of any', async () => {
    await tgt.query('BEGIN');
    const failing = ['COPY part_1 TO STDOUT (FORMAT binary)', 'COPY (SELECT id, label, (1 / (id - id))::text::jsonb FROM part_2) TO STDOUT (FORMAT binary)', ...parts.slice(2).map((p) => `COPY ${p} TO STDOUT (FORMAT binary)`)].join(';\n');
    await expect(relayParts(failing, copyIn('binary'), true)).rejects.toThrow(/division by zero/);
    await tgt.query('ROLLBACK').catch(() => undefined);
    expect((await partSums('relay_tgt')).map((s) => s.split(':')[1])).toEqual(['0', '0', '0', '0']);
    expect((await tgt.query('SELECT 7 AS seven')).rows).toEqual([{ seven: 7 }]);
  });

  it("names the table whose count differs: a lost row in the second table", async () => {
    let first = true;
    const dropFirstRow = new Transform({
      transform(chunk: Buffer, _e, done) {
        // part_1 is empty (in text, no CopyData at all): past its CopyDone, the first row is part_2's
        if (!first || chunk[0] !== 0x64) return done(null, chunk);
        first = false;
        done(null, chunk.subarray(1 + chunk.readUInt32BE(1)));
      },
    });
    const { reader, writer } = await relayParts(copyOut('text'), copyIn('text'), false, dropFirstRow);
    expect(writer.rowCounts).toEqual([0, 0, 300, 5000]);
    await expect(agreedRowCounts(reader, writer, parts)).rejects.toThrow('the source sent 1 rows of part_2, the target took 0');
  });
});

/** The source connection is left in COPY OUT when the target stops reading: start afresh, as copy-unit does. */
async function reconnectSourceIfClosed(): Promise<void> {
  await src.end().catch(() => undefined);
  src = await pg.connect('relay_src');
}
