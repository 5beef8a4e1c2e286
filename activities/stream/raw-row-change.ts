/**
 * An insert, or an update that sent only its new row, kept as the bytes pgoutput sent: the
 * common change of a busy source, and the one a batch holds thousands of.
 *
 * Why bytes: a batch keeps its changes until it is applied, through many of V8's young-
 * generation collections, and every object it holds is copied at each one. Decoded, a row
 * is an array and a string per value (pgbench's account update: 8 objects, ~430 bytes); here it
 * is this object and a view of the frame, whose bytes live outside the JS heap. In a drain the
 * collector's copying was ~40 % of the worker's main thread. The values also go to the target
 * as they came (TextArrayBuilder copies the bytes), never decoded and encoded back.
 *
 * Anything that needs the values (row filters, key ranges, projections, a partial row merged
 * into another) reads `newTuple`, decoded on first use: the change then behaves like any other.
 *
 * TupleData layout (protocol-logicalrep-message-formats): int16 column count, then per column
 * a kind byte: `n` NULL, `u` unchanged TOAST, `t` int32 length and the text.
 */
import type { TextArrayBuilder } from './binary-text-array';
import { UNCHANGED_TOAST, type TupleValue } from './pgoutput-types';

export const COL_NULL = 0x6e; // n
export const COL_UNCHANGED_TOAST = 0x75; // u
export const COL_TEXT = 0x74; // t
export const COL_BINARY = 0x62; // b

export class RawRowChange {
  private decoded?: TupleValue[];

  /** `buf` holds the tuple from `at` (its column count); the decoder checked it is well formed. */
  constructor(
    readonly tag: 'insert' | 'update',
    readonly relationId: number,
    private readonly buf: Buffer,
    private readonly at: number,
  ) {}

  /** The values, decoded on first use. */
  get newTuple(): TupleValue[] {
    if (!this.decoded) {
      const values = new Array<TupleValue>(this.columnCount);
      this.walk((i, start, length) => (values[i] = length < 0 ? (length === NULL_LENGTH ? null : UNCHANGED_TOAST) : this.buf.toString('utf8', start, start + length)));
      this.decoded = values;
    }
    return this.decoded;
  }

  get columnCount(): number {
    return this.buf.readUInt16BE(this.at);
  }

  /** Every column was sent (none left out as unchanged TOAST). */
  get complete(): boolean {
    let complete = true;
    this.walk((_, __, length) => {
      if (length === TOAST_LENGTH) complete = false;
    });
    return complete;
  }

  /** One column's value (a key column: the batch nets by it). */
  value(column: number): TupleValue {
    let value: TupleValue = null;
    this.walk((i, start, length) => {
      if (i === column) value = length < 0 ? (length === NULL_LENGTH ? null : UNCHANGED_TOAST) : this.buf.toString('utf8', start, start + length);
    });
    return value;
  }

  /** Adds each column's value to `builders[column]`, for the columns that have one. Call only on a complete row. */
  appendTo(builders: Array<TextArrayBuilder | undefined>): void {
    this.walk((i, start, length) => {
      const builder = builders[i];
      if (!builder) return;
      if (length === NULL_LENGTH) builder.addNull();
      else builder.addBytes(this.buf, start, length);
    });
  }

  /** Calls `visit` per column with where its text starts and its length (NULL_LENGTH, TOAST_LENGTH when it has none). */
  private walk(visit: (column: number, start: number, length: number) => void): void {
    const buf = this.buf;
    const count = buf.readUInt16BE(this.at);
    let off = this.at + 2;
    for (let i = 0; i < count; i += 1) {
      const kind = buf[off];
      off += 1;
      if (kind === COL_TEXT) {
        const length = buf.readUInt32BE(off);
        visit(i, off + 4, length);
        off += 4 + length;
      } else visit(i, off, kind === COL_NULL ? NULL_LENGTH : TOAST_LENGTH);
    }
  }
}

const NULL_LENGTH = -1;
const TOAST_LENGTH = -2;
