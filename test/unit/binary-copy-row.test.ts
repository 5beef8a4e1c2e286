import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryCopyRow } from '../../activities/schema/binary-copy-row';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgferry-copy-row-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function all(gen: AsyncGenerator<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of Readable.from(gen)) out.push(chunk as Buffer);
  return Buffer.concat(out);
}

describe('binaryCopyRow', () => {
  it('writes the header, a row of the key and the file, and the trailer', async () => {
    await writeFile(join(dir, 'a'), 'dump');
    const stream = await all(binaryCopyRow('wf-ü', join(dir, 'a')));
    const key = Buffer.from('wf-ü', 'utf8');
    const expected = Buffer.concat([
      Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'),
      Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, key.length]),
      key,
      Buffer.from([0, 0, 0, 4]),
      Buffer.from('dump'),
      Buffer.from([0xff, 0xff]),
    ]);
    expect(stream.equals(expected)).toBe(true);
  });

  it('refuses a file that changed after its length was written, and ends without the trailer', async () => {
    const file = join(dir, 'b');
    await writeFile(file, Buffer.alloc(100_000, 7));
    const gen = binaryCopyRow('wf', file);
    const head = await gen.next(); // the length (100,000) is in it
    expect(head.value!.readInt32BE(head.value!.length - 4)).toBe(100_000);
    await truncate(file, 10);
    const rest: Buffer[] = [];
    await expect(
      (async () => {
        for await (const chunk of gen) rest.push(chunk);
      })(),
    ).rejects.toThrow('changed while it was read (100000 bytes, then 10)');
    expect(Buffer.concat(rest).length).toBe(10);
  });
});
