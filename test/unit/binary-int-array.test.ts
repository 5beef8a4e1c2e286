import { describe, expect, it } from 'vitest';
import { fromBytes as bytesInto, fromStrings as stringsInto } from '../support/array-builder-input';
import { IntArrayBuilder, type IntForm } from '../../activities/stream/binary-int-array';
import { paramValues } from '../support/array-param';

const EXTREMES: Record<IntForm, string[]> = {
  int2: ['0', '-1', '7', '-32768', '32767'],
  int4: ['0', '-1', '42', '-2147483648', '2147483647', '999999999', '-1000000000'],
  int8: ['0', '-1', '9007199254740991', '9007199254740993', '-9007199254740993', '999999999999999', '1000000000000000', '-9223372036854775808', '9223372036854775807', '4294967296', '-4294967296', '-4294967297'],
};

// Small builders: their buffers have to grow.
const fromStrings = (form: IntForm, values: Array<string | null>) => stringsInto(new IntArrayBuilder(form, 2), values);
const fromBytes = (form: IntForm, values: Array<string | null>) => bytesInto(new IntArrayBuilder(form, 2), values);

describe('IntArrayBuilder', () => {
  for (const form of ['int2', 'int4', 'int8'] as const) {
    it(`writes ${form} values exactly, from strings and from bytes, with NULLs`, () => {
      const values = [...EXTREMES[form], null, '5'];
      expect(paramValues(fromStrings(form, values))).toEqual(values);
      expect(fromBytes(form, values).equals(fromStrings(form, values))).toBe(true);
    });
  }

  it('writes the binary array header PostgreSQL reads: one dimension, NULL flag, element type, count, lower bound', () => {
    const buf = fromStrings('int4', ['1', null]);
    expect([0, 4, 8, 12, 16].map((at) => buf.readInt32BE(at))).toEqual([1, 1, 23, 2, 1]);
    expect(buf.length).toBe(20 + 8 + 4);
    expect(paramValues(fromStrings('int8', []))).toEqual([]);
    expect(fromStrings('int2', []).readUInt32BE(8)).toBe(21);
  });

  it('refuses text that is not an integer, or out of range, without quoting it', () => {
    expect(() => fromStrings('int4', ['12a'])).toThrow("a value for an int4 column is not an integer's text (3 characters)");
    expect(() => fromStrings('int8', ['9223372036854775808'])).toThrow('a value for an int8 column is out of its range');
    expect(() => fromBytes('int4', [''])).toThrow('not an integer');
    expect(() => fromStrings('int4', ['2147483648'])).toThrow('a value for an int4 column is out of its range');
    expect(() => fromBytes('int2', ['-32769'])).toThrow('a value for an int2 column is out of its range');
    expect(() => fromStrings('int4', ['x'])).toThrow(expect.objectContaining({ code: '22P02' }));
    expect(() => fromStrings('int2', ['40000'])).toThrow(expect.objectContaining({ code: '22003' }));
  });
});
