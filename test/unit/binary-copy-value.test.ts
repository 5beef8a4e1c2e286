import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { BinaryCopyValue } from '../../activities/schema/binary-copy-value';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const int16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

/** A binary COPY of one column: rows of values (null for NULL), with a header extension. */
function binaryCopy(values: (Buffer | null)[], extension = Buffer.alloc(0)): Buffer {
  const rows = values.map((v) => Buffer.concat([int16(1), v === null ? int32(-1) : Buffer.concat([int32(v.length), v])]));
  return Buffer.concat([SIGNATURE, int32(0), int32(extension.length), extension, ...rows, int16(-1)]);
}

async function valueOf(stream: Buffer, chunkBytes: number): Promise<{ bytes: Buffer; found: boolean }> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < stream.length; i += chunkBytes) chunks.push(stream.subarray(i, i + chunkBytes));
  const value = new BinaryCopyValue();
  const out: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    Readable.from(chunks).pipe(value).on('data', (b: Buffer) => out.push(b)).on('end', resolve).on('error', reject);
  });
  return { bytes: Buffer.concat(out), found: value.found };
}

describe('BinaryCopyValue', () => {
  const payload = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) % 256));

  it('gives the value byte for byte however the stream is cut', async () => {
    for (const size of [1, 3, 19, 25, 26, 64, 100_000]) {
      const { bytes, found } = await valueOf(binaryCopy([payload], Buffer.from('ext')), size);
      expect(found).toBe(true);
      expect(bytes.equals(payload)).toBe(true);
    }
  });

  it('gives nothing for NULL or no row, and an empty value as empty', async () => {
    expect(await valueOf(binaryCopy([null]), 7)).toEqual({ bytes: Buffer.alloc(0), found: false });
    expect(await valueOf(binaryCopy([]), 7)).toEqual({ bytes: Buffer.alloc(0), found: false });
    expect(await valueOf(binaryCopy([Buffer.alloc(0)]), 7)).toEqual({ bytes: Buffer.alloc(0), found: true });
  });

  it('fails on a stream cut inside the value or its header, or one that is not a binary COPY', async () => {
    const whole = binaryCopy([payload]);
    await expect(valueOf(whole.subarray(0, whole.length - 100), 50)).rejects.toThrow(/ended \d+ bytes before/);
    await expect(valueOf(Buffer.concat([Buffer.from('COPY!!!!!!!'), whole.subarray(11)]), 50)).rejects.toThrow(/not a binary COPY/);
    // cut before the value's length is known: an empty file would pass for an empty dump
    for (const at of [0, 10, 19, 22]) await expect(valueOf(whole.subarray(0, at), 7)).rejects.toThrow(/ended in its header/);
  });
});
