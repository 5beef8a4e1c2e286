/**
 * Counts rows in a binary COPY stream as it flows by, without copying or decoding values.
 *
 * Format (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4):
 *   header   11-byte signature, int32 flags, int32 extension length, extension bytes
 *   tuple    int16 field count, then per field int32 length (-1 = NULL) and that many bytes
 *   trailer  int16 -1
 * Chunks may split anywhere, even inside a length word, so fixed-width parts are gathered in
 * a small buffer and variable-width parts are skipped by count.
 */
import { Transform, type TransformCallback } from 'node:stream';

const SIGNATURE_AND_FLAGS = 15; // 11-byte signature + int32 flags
const INT32 = 4;
const INT16 = 2;

type State = 'header' | 'extensionLength' | 'skipExtension' | 'fieldCount' | 'fieldLength' | 'skipField' | 'done';

export class BinaryCopyCounter {
  rows = 0;
  bytes = 0;
  private state: State = 'header';
  private partial = Buffer.alloc(0);
  private toSkip = 0;
  private fieldsLeft = 0;

  /** Feeds the next chunk of the stream. */
  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    let offset = 0;
    while (offset < chunk.length && this.state !== 'done') {
      if (this.state === 'fieldCount' && this.partial.length === 0) {
        const next = this.wholeRows(chunk, offset);
        if (next !== offset) {
          offset = next;
          continue;
        }
      }
      offset = this.step(chunk, offset);
    }
  }

  /**
   * The hot loop: skips over every row that lies wholly inside the chunk, reading only the
   * field lengths. Returns where the first incomplete row starts (the slow path takes it).
   */
  private wholeRows(chunk: Buffer, start: number): number {
    const end = chunk.length;
    let offset = start;
    while (offset + 2 <= end) {
      const fields = chunk.readInt16BE(offset);
      if (fields === -1) {
        this.state = 'done';
        return offset + 2;
      }
      let at = offset + 2;
      let complete = true;
      for (let i = 0; i < fields; i += 1) {
        if (at + 4 > end) {
          complete = false;
          break;
        }
        const length = chunk.readInt32BE(at);
        at += 4 + (length > 0 ? length : 0);
        if (at > end) {
          complete = false;
          break;
        }
      }
      if (!complete) return offset;
      this.rows += 1;
      offset = at;
    }
    return offset;
  }

  /** The slow path: one fixed-width word or one skip, across chunk boundaries. */
  private step(chunk: Buffer, offset: number): number {
    if (this.state === 'skipExtension' || this.state === 'skipField') {
      const n = Math.min(this.toSkip, chunk.length - offset);
      this.toSkip -= n;
      if (this.toSkip === 0) this.afterSkip();
      return offset + n;
    }
    const width = this.fixedWidth();
    if (this.partial.length === 0 && chunk.length - offset >= width) {
      this.onFixed(chunk, offset);
      return offset + width;
    }
    const take = Math.min(width - this.partial.length, chunk.length - offset);
    this.partial = Buffer.concat([this.partial, chunk.subarray(offset, offset + take)]);
    if (this.partial.length === width) {
      const word = this.partial;
      this.partial = Buffer.alloc(0);
      this.onFixed(word, 0);
    }
    return offset + take;
  }

  private fixedWidth(): number {
    switch (this.state) {
      case 'header':
        return SIGNATURE_AND_FLAGS;
      case 'fieldCount':
        return INT16;
      default:
        return INT32;
    }
  }

  private onFixed(word: Buffer, at: number): void {
    switch (this.state) {
      case 'header':
        this.state = 'extensionLength';
        return;
      case 'extensionLength':
        this.toSkip = word.readInt32BE(at);
        this.state = this.toSkip > 0 ? 'skipExtension' : 'fieldCount';
        return;
      case 'fieldCount': {
        const count = word.readInt16BE(at);
        if (count === -1) {
          this.state = 'done';
          return;
        }
        this.rows += 1;
        this.fieldsLeft = count;
        this.state = count > 0 ? 'fieldLength' : 'fieldCount';
        return;
      }
      case 'fieldLength': {
        const length = word.readInt32BE(at);
        this.fieldsLeft -= 1;
        if (length > 0) {
          this.toSkip = length;
          this.state = 'skipField';
        } else {
          this.state = this.fieldsLeft > 0 ? 'fieldLength' : 'fieldCount';
        }
        return;
      }
      default:
        return;
    }
  }

  private afterSkip(): void {
    if (this.state === 'skipExtension') this.state = 'fieldCount';
    else this.state = this.fieldsLeft > 0 ? 'fieldLength' : 'fieldCount';
  }
}

export interface CopyCounter {
  rows: number;
  bytes: number;
  push(chunk: Buffer): void;
}

/** A pass-through stream that counts rows and bytes of the COPY data crossing it. */
export function countingStream(counter: CopyCounter): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      counter.push(chunk);
      callback(null, chunk);
    },
  });
}
