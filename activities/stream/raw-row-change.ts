/**
 * An insert, or an update that sent only its new row, kept as the bytes pgoutput sent: the
 * common change of a busy source, and the one a batch holds thousands of.
 *
 * Why bytes: a batch keeps its changes until it is applied, through many of V8's young-
 * generation collections, and every object it holds is copied at each one. Decoded, a row
 * is an array and a string per value (pgbench's account update: 8 objects, ~430 bytes); here it
 * is this object and a view of the frame, whose bytes live outside the JS heap. In a drain the
 * collector's copying was ~40 % of the worker's main thread. The values also go to the target
 * as they came (the column's array builder copies the bytes, or parses an integer's), never decoded and encoded back.
 *
 * Anything that needs the values (row filters, key ranges, projections, a partial row merged
 * into another) reads `newTuple`, decoded on first use: the change then behaves like any other.
 *
 * TupleData layout (protocol-logicalrep-message-formats): int16 column count, then per column
 * a kind byte: `n` NULL, `u` unchanged TOAST, `t` int32 length and the text.
 */
import type { BinaryArrayBuilder } from './binary-array';
import { COL_NULL, COL_TEXT, UNCHANGED_TOAST, type TupleValue } from './pgoutput-types';

export class RawRowChange {
  private decoded?: TupleValue[];

  /**
   * `buf` holds the tuple from `at` (its column count); the decoder checked it is well formed,
   * and whether every column was sent (`complete`: none left out as unchanged TOAST).
   */
  constructor(
    readonly tag: 'insert' | 'update',
    readonly relationId: number,
    private readonly buf: Buffer,
    private readonly at: number,
    readonly complete: boolean,
  ) {}

  /** The values, decoded on first use. */
  get newTuple(): TupleValue[] {
    if (!this.decoded) {
      const values = new Array<TupleValue>(this.columnCount);
      for (let i = 0, off = this.at + 2; i < values.length; i += 1, off = this.next(off)) values[i] = this.valueAt(off);
      this.decoded = values;
    }
    return this.decoded;
  }

  get columnCount(): number {
    return this.buf.readUInt16BE(this.at);
  }

  /** One column's value (a key column: the batch nets by it). */
  value(column: number): TupleValue {
    let off = this.at + 2;
    for (let i = 0; i < column; i += 1) off = this.next(off);
    return this.valueAt(off);
  }

  /** Adds each column's value to `builders[column]`, for the columns that have one. Call only on a complete row. */
  appendTo(builders: Array<BinaryArrayBuilder | undefined>): void {
    const buf = this.buf;
    const count = buf.readUInt16BE(this.at);
    let off = this.at + 2;
    for (let i = 0; i < count; i += 1) {
      const builder = builders[i];
      if (buf[off] === COL_TEXT) {
        const length = buf.readUInt32BE(off + 1);
        builder?.addBytes(buf, off + 5, length);
        off += 5 + length;
      } else {
        builder?.addNull(); // complete: `n`, never `u`
        off += 1;
      }
    }
  }

  /** The offset of the column after the one at `off`. */
  private next(off: number): number {
    return this.buf[off] === COL_TEXT ? off + 5 + this.buf.readUInt32BE(off + 1) : off + 1;
  }

  /** The value of the column at `off`. */
  private valueAt(off: number): TupleValue {
    const kind = this.buf[off];
    if (kind !== COL_TEXT) return kind === COL_NULL ? null : UNCHANGED_TOAST;
    return this.buf.toString('utf8', off + 5, off + 5 + this.buf.readUInt32BE(off + 1));
  }
}
