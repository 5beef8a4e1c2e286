/**
 * A text[] parameter in PostgreSQL's binary array format, the one `array_recv` reads: the
 * change stream binds a batch's rows as one text[] per column (target-table.ts), tens of
 * thousands of values a batch. node-postgres sends a Buffer parameter as binary, so the values
 * go into one buffer as they are: no quoting or escaping to build a `{"a","b"}` literal (a tree
 * of string pieces per value, flattened and encoded again by the driver), and the target
 * reads lengths instead of parsing the literal.
 *
 * Layout (src/backend/utils/adt/arrayfuncs.c, array_recv): int32 number of dimensions,
 * int32 flags (1: has NULLs), OID of the element type; per dimension int32 length and int32
 * lower bound; then per element int32 byte length (-1: NULL) and the bytes. Text elements are
 * the client encoding's bytes, which node-postgres sets to UTF-8.
 */

const TEXT_OID = 25;
const HEADER_BYTES = 4 + 4 + 4;
const DIMENSION_BYTES = 4 + 4;
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

/** A bigger buffer with the first `used` bytes of `buf` (non-ASCII text took more than its length). */
function grown(buf: Buffer, used: number, needed: number): Buffer {
  const bigger = Buffer.allocUnsafe(Math.max(needed, buf.length * 2));
  buf.copy(bigger, 0, 0, used);
  return bigger;
}

/**
 * The array written element by element: strings (encoded here), or the bytes of rows kept as
 * pgoutput sent them (raw-row-change.ts), copied as they are, never turned into JS strings and
 * encoded back.
 */
export class TextArrayBuilder {
  private buf: Buffer;
  private at = HEADER_BYTES + DIMENSION_BYTES;
  private count = 0;
  private hasNull = 0;

  constructor(expectedBytes = 1024) {
    this.buf = Buffer.allocUnsafe(HEADER_BYTES + DIMENSION_BYTES + expectedBytes);
  }

  addNull(): void {
    this.room(4);
    this.buf.writeInt32BE(-1, this.at);
    this.at += 4;
    this.count += 1;
    this.hasNull = 1;
  }

  /** `length` bytes of `source` from `start`: a value as the client encoding's bytes. */
  addBytes(source: Buffer, start: number, length: number): void {
    this.room(4 + length);
    this.buf.writeInt32BE(length, this.at);
    if (length <= SHORT_VALUE_BYTES) {
      // Most values are a few bytes (numbers, dates, keys): Buffer.copy's checks cost more than the copy.
      const to = this.buf;
      const at = this.at + 4;
      for (let i = 0; i < length; i += 1) to[at + i] = source[start + i];
    } else source.copy(this.buf, this.at + 4, start, start + length);
    this.at += 4 + length;
    this.count += 1;
  }

  add(value: string | null): void {
    if (value === null) return this.addNull();
    this.room(4 + MAX_UTF8_PER_UNIT * value.length);
    const written = this.buf.write(value, this.at + 4, 'utf8');
    this.buf.writeInt32BE(written, this.at);
    this.at += 4 + written;
    this.count += 1;
  }

  /** The parameter (the builder is done with). */
  finish(): Buffer {
    if (this.count === 0) {
      // No dimensions: flags 0, then the element type.
      const empty = Buffer.alloc(HEADER_BYTES);
      empty.writeInt32BE(TEXT_OID, 8);
      return empty;
    }
    this.buf.writeInt32BE(1, 0); // one dimension
    this.buf.writeInt32BE(this.hasNull, 4);
    this.buf.writeInt32BE(TEXT_OID, 8);
    this.buf.writeInt32BE(this.count, 12);
    this.buf.writeInt32BE(1, 16); // lower bound, as in SQL
    return this.buf.subarray(0, this.at);
  }

  private room(bytes: number): void {
    if (this.at + bytes > this.buf.length) this.buf = grown(this.buf, this.at, this.at + bytes);
  }
}
