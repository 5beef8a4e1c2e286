// The schema dump kept in the target's bookkeeping, against a real PostgreSQL: post-data reads
// it back slice by slice into a file, byte for byte.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDumpInto, saveDump } from '../activities/schema/step-marker';
import { startPostgres, type PgCluster } from '../launch/postgres';

let pg: PgCluster;
let client: Client;
let dir: string;

beforeAll(async () => {
  pg = await startPostgres({ name: 'step-marker' });
  client = await pg.connect();
  dir = await mkdtemp(join(tmpdir(), 'pgferry-step-marker-'));
});

afterAll(async () => {
  await client?.end();
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('saved schema dump', () => {
  it('comes back byte for byte over several slices, with the ids to leave out', async () => {
    // 2.5 slices of random bytes (every byte value, no text encoding can pass them unharmed)
    const dump = randomBytes(2.5 * 1024 * 1024);
    await writeFile(join(dir, 'big.saved'), dump);
    await saveDump(client, 'wf-big', join(dir, 'big.saved'), [3, 7], ['public']);
    const file = join(dir, 'big.dump');
    expect(await loadDumpInto(client, 'wf-big', file)).toEqual({ skip: [3, 7] });
    expect((await readFile(file)).equals(dump)).toBe(true);
  });

  it('replaces the dump saved before under the same workflow', async () => {
    const first = randomBytes(1000);
    const second = randomBytes(300);
    await writeFile(join(dir, 'first.saved'), first);
    await writeFile(join(dir, 'second.saved'), second);
    await saveDump(client, 'wf-again', join(dir, 'first.saved'), [1]);
    await saveDump(client, 'wf-again', join(dir, 'second.saved'), [2], ['app']);
    const file = join(dir, 'again.dump');
    expect(await loadDumpInto(client, 'wf-again', file)).toEqual({ skip: [2] });
    expect((await readFile(file)).equals(second)).toBe(true);
    const { rows } = await client.query(`SELECT existing_schemas FROM _pgferry.dumps WHERE workflow_id = 'wf-again'`);
    expect(rows).toEqual([{ existing_schemas: ['app'] }]);
  });

  it('leaves no half-saved dump when the file cannot be read, and the session usable', async () => {
    await expect(saveDump(client, 'wf-missing', join(dir, 'no-such.saved'))).rejects.toThrow(/no-such\.saved/);
    expect(await loadDumpInto(client, 'wf-missing', join(dir, 'missing.dump'))).toBeUndefined();
    const { rows } = await client.query('SELECT 1 AS ok');
    expect(rows).toEqual([{ ok: 1 }]);
  });

  it('keeps the dump saved before when a second save fails (the replacement is one transaction)', async () => {
    const first = randomBytes(500);
    await writeFile(join(dir, 'kept.saved'), first);
    await saveDump(client, 'wf-kept', join(dir, 'kept.saved'), [4]);
    await expect(saveDump(client, 'wf-kept', join(dir, 'gone.saved'), [5])).rejects.toThrow(/gone\.saved/);
    const file = join(dir, 'kept.dump');
    expect(await loadDumpInto(client, 'wf-kept', file)).toEqual({ skip: [4] });
    expect((await readFile(file)).equals(first)).toBe(true);
  });

  it('writes an empty dump as an empty file, and tells when no dump was saved', async () => {
    await writeFile(join(dir, 'empty.saved'), '');
    await saveDump(client, 'wf-empty', join(dir, 'empty.saved'));
    const empty = join(dir, 'empty.dump');
    expect(await loadDumpInto(client, 'wf-empty', empty)).toEqual({ skip: [] });
    expect((await stat(empty)).size).toBe(0);
    expect(await loadDumpInto(client, 'wf-none', join(dir, 'none.dump'))).toBeUndefined();
  });
});
