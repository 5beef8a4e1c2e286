/**
 * A text[] parameter in binary array format (binary-array.ts): the column of a batch's rows for
 * every type but the integers (column-array.ts). Text goes in as it is: no quoting or escaping
 * to build a `{"a","b"}` literal (a tree of string pieces per value, flattened and encoded again
 * by the driver), and the target reads lengths instead of parsing the literal. Text elements are
 * the client encoding's bytes, which node-postgres sets to UTF-8.
 */
import { BinaryArrayBuilder } from './binary-array';

const TEXT_OID = 25;
/** A UTF-16 code unit takes at most 3 bytes in UTF-8 (a surrogate pair, 2 units, takes 4). */
const MAX_UTF8_PER_UNIT = 3;
/** Values up to this many bytes are copied byte by byte (TextArrayBuilder.addBytes). */
const SHORT_VALUE_BYTES = 32;

export function binaryTextArray(values: ReadonlyArray<string | null>): Buffer {
  // Sized for ASCII, plus room for the longest value's worst case: ASCII data never grows it
  // (add() asks for a value's worst case, which the slack covers for any value).
  let ascii = 0;
  let longest = 0;
  for (let i = 0; i < values.length; i += 1) {
    const length = values[i]?.length ?? 0;
    ascii += 4 + length;
    if (length > longest) longest = length;
  }
  const builder = new TextArrayBuilder(ascii + (MAX_UTF8_PER_UNIT - 1) * longest);
  for (let i = 0; i < values.length; i += 1) builder.add(values[i]);
  return builder.finish();
}

/**
 * The array written element by element: strings (encoded here), or the bytes of rows kept as
 * pgoutput sent them (raw-row-change.ts), copied as they are, never turned into JS strings and
 * encoded back.
 */
export class TextArrayBuilder extends BinaryArrayBuilder {
  constructor(expectedBytes = 1024) {
    super(TEXT_OID, expectedBytes);
  }

  /** `length` bytes of `source` from `start`: a value as the client encoding's bytes. */
  addBytes(source: Buffer, start: number, length: number): void {
    const at = this.element(length);
    const to = this.buf;
    if (length <= SHORT_VALUE_BYTES) {
      // Most values are a few bytes (numbers, dates, keys): Buffer.copy's checks cost more than the copy.
      for (let i = 0; i < length; i += 1) to[at + i] = source[start + i];
    } else source.copy(to, at, start, start + length);
  }

  add(value: string | null): void {
    if (value === null) return this.addNull();
    this.room(4 + MAX_UTF8_PER_UNIT * value.length);
    const written = this.buf.write(value, this.at + 4, 'utf8');
    this.buf.writeInt32BE(written, this.at);
    this.at += 4 + written;
    this.added();
  }
}
