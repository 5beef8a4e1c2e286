// The binary text[] parameter, read back the way array_recv reads it.
import { describe, expect, it } from 'vitest';
import { binaryTextArray, TextArrayBuilder } from '../../activities/stream/binary-text-array';

function readBack(buf: Buffer): { flags: number; elementType: number; values: Array<string | null> } {
  const dimensions = buf.readInt32BE(0);
  const flags = buf.readInt32BE(4);
  const elementType = buf.readInt32BE(8);
  if (dimensions === 0) return { flags, elementType, values: [] };
  expect(dimensions).toBe(1);
  const count = buf.readInt32BE(12);
  expect(buf.readInt32BE(16)).toBe(1); // lower bound
  const values: Array<string | null> = [];
  let at = 20;
  for (let i = 0; i < count; i += 1) {
    const length = buf.readInt32BE(at);
    at += 4;
    if (length === -1) values.push(null);
    else {
      values.push(buf.toString('utf8', at, at + length));
      at += length;
    }
  }
  expect(at).toBe(buf.length); // nothing after the last element
  return { flags, elementType, values };
}

describe('binaryTextArray', () => {
  it('writes each value with its length, -1 for NULL, and flags the NULLs', () => {
    const values = ['a', null, 'NULL', '', 'x,y', 'say "hi"', 'c:\\dir', '{}'];
    expect(readBack(binaryTextArray(values))).toEqual({ flags: 1, elementType: 25, values });
    expect(readBack(binaryTextArray(['1', '2']))).toEqual({ flags: 0, elementType: 25, values: ['1', '2'] });
  });

  it('writes an empty array with no dimensions', () => {
    expect(readBack(binaryTextArray([]))).toEqual({ flags: 0, elementType: 25, values: [] });
  });

  it('counts bytes, not characters, and grows past the ASCII sizing for non-ASCII text', () => {
    const wide = '日本語'.repeat(1000); // 3 bytes per character
    const values = ['ü', wide, 'emoji 🙂', null, wide + 'é', 'ascii'];
    const buf = binaryTextArray(values);
    expect(readBack(buf).values).toEqual(values);
    expect(buf.readInt32BE(20)).toBe(2); // 'ü' is 2 bytes
  });

  it('holds 20,000 values of a batch', () => {
    const values = Array.from({ length: 20_000 }, (_, i) => (i % 7 === 0 ? null : `value ${i} ${'x'.repeat(i % 90)}`));
    expect(readBack(binaryTextArray(values)).values).toEqual(values);
  });
});

describe('TextArrayBuilder', () => {
  it('writes bytes copied from elsewhere, strings and NULLs into the same array as binaryTextArray would', () => {
    const frame = Buffer.from('xxhelloyy日本zz', 'utf8');
    const builder = new TextArrayBuilder(4); // grows many times
    builder.addBytes(frame, 2, 5);
    builder.add('ü');
    builder.addNull();
    builder.addBytes(frame, 9, 6); // 日本
    builder.add('');
    for (let i = 0; i < 1000; i += 1) builder.add(`v${i}`);
    const expected = ['hello', 'ü', null, '日本', '', ...Array.from({ length: 1000 }, (_, i) => `v${i}`)];
    const built = builder.finish();
    expect(readBack(built)).toEqual({ flags: 1, elementType: 25, values: expected });
    expect(built.equals(binaryTextArray(expected))).toBe(true);
  });

  it('writes an empty array as binaryTextArray does', () => {
    expect(new TextArrayBuilder().finish().equals(binaryTextArray([]))).toBe(true);
  });
});
