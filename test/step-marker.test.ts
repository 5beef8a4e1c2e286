// The schema dump kept in the target's bookkeeping, against a real PostgreSQL: post-data reads
// it back slice by slice into a file, byte for byte.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
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
    await saveDump(client, 'wf-big', dump, [3, 7], ['public']);
    const file = join(dir, 'big.dump');
    expect(await loadDumpInto(client, 'wf-big', file)).toEqual({ skip: [3, 7] });
    expect((await readFile(file)).equals(dump)).toBe(true);
  });

  it('writes an empty dump as an empty file, and tells when no dump was saved', async () => {
    await saveDump(client, 'wf-empty', Buffer.alloc(0));
    const empty = join(dir, 'empty.dump');
    expect(await loadDumpInto(client, 'wf-empty', empty)).toEqual({ skip: [] });
    expect((await stat(empty)).size).toBe(0);
    expect(await loadDumpInto(client, 'wf-none', join(dir, 'none.dump'))).toBeUndefined();
  });
});
