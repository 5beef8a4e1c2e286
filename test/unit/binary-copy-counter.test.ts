import { describe, expect, it } from 'vitest';
import { BinaryCopyCounter } from '../../activities/copy/binary-copy-counter';
import { TextCopyCounter } from '../../activities/copy/text-copy-counter';

/** A binary COPY stream with the given rows; each field is a Buffer or null. */
function binaryCopy(rows: Array<Array<Buffer | null>>, extension = Buffer.alloc(0)): Buffer {
  const parts: Buffer[] = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1')];
  const int32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  const int16 = (n: number) => {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    return b;
  };
  parts.push(int32(0), int32(extension.length), extension);
  for (const row of rows) {
    parts.push(int16(row.length));
    for (const field of row) {
      if (field === null) parts.push(int32(-1));
      else parts.push(int32(field.length), field);
    }
  }
  parts.push(int16(-1));
  return Buffer.concat(parts);
}

const rows = [
  [Buffer.from('1'), Buffer.from('hello'), null],
  [Buffer.from('2'), Buffer.alloc(0), Buffer.alloc(70_000, 7)],
  [null, null, null],
  [Buffer.from([0, 0, 0, 0])],
  [],
];

describe('BinaryCopyCounter', () => {
  it('counts rows and bytes of a stream in one chunk', () => {
    const data = binaryCopy(rows);
    const counter = new BinaryCopyCounter();
    counter.push(data);
    expect(counter.rows).toBe(5);
    expect(counter.bytes).toBe(data.length);
  });

  it('counts the same whatever the chunk boundaries, down to single bytes', () => {
    const data = binaryCopy(rows, Buffer.from('ext!'));
    for (const size of [1, 2, 3, 5, 7, 19, 4096]) {
      const counter = new BinaryCopyCounter();
      for (let i = 0; i < data.length; i += size) counter.push(data.subarray(i, i + size));
      expect(counter.rows, `chunk size ${size}`).toBe(5);
    }
  });

  it('ignores bytes after the trailer', () => {
    const counter = new BinaryCopyCounter();
    counter.push(Buffer.concat([binaryCopy(rows.slice(0, 2)), Buffer.from([0, 3, 0, 0])]));
    expect(counter.rows).toBe(2);
  });
});

describe('TextCopyCounter', () => {
  it('counts one row per newline across chunks', () => {
    const counter = new TextCopyCounter();
    counter.push(Buffer.from('1\ta\\nb\n2\t'));
    counter.push(Buffer.from('c\n3\t\\N\n'));
    expect(counter.rows).toBe(3);
  });
});
