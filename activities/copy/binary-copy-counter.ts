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
      if (this.state === 'skipExtension' || this.state === 'skipField') {
        const step = Math.min(this.toSkip, chunk.length - offset);
        offset += step;
        this.toSkip -= step;
        if (this.toSkip === 0) this.afterSkip();
        continue;
      }
      const width = this.fixedWidth();
      if (this.partial.length === 0 && chunk.length - offset >= width) {
        // Fast path: the whole word is in this chunk.
        this.onFixed(chunk, offset);
        offset += width;
        continue;
      }
      const take = Math.min(width - this.partial.length, chunk.length - offset);
      this.partial = Buffer.concat([this.partial, chunk.subarray(offset, offset + take)]);
      offset += take;
      if (this.partial.length === width) {
        const word = this.partial;
        this.partial = Buffer.alloc(0);
        this.onFixed(word, 0);
      }
    }
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
