/**
 * One row of a text key and a file's bytes as a `COPY … (key, value) FROM STDIN (FORMAT
 * binary)` stream: the file goes to the server as it is read, so a dump of many megabytes is
 * never whole in the worker's memory (as a query parameter it was, and then copied again into
 * the Bind message). The counterpart of binary-copy-value.ts, which reads such a value back.
 *
 * Binary COPY: an 11-byte signature, a flags word, a header extension length (0), then per row
 * a field count (int16) and per field a length (int32) and the bytes; a trailer of -1 (int16).
 * https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { SIGNATURE } from './binary-copy-value';

const TRAILER = Buffer.from([0xff, 0xff]);

export async function* binaryCopyRow(key: string, file: string): AsyncGenerator<Buffer> {
  const { size } = await stat(file);
  const keyBytes = Buffer.from(key, 'utf8');
  const head = Buffer.alloc(SIGNATURE.length + 4 + 4 + 2 + 4 + keyBytes.length + 4);
  let at = SIGNATURE.copy(head, 0);
  at = head.writeUInt32BE(0, at); // flags
  at = head.writeUInt32BE(0, at); // header extension length
  at = head.writeInt16BE(2, at); // fields
  at = head.writeInt32BE(keyBytes.length, at);
  at += keyBytes.copy(head, at);
  head.writeInt32BE(size, at);
  yield head;
  let read = 0;
  for await (const chunk of createReadStream(file)) {
    read += (chunk as Buffer).length;
    if (read > size) break;
    yield chunk as Buffer;
  }
  // The length went first: a file that changed meanwhile would make a wrong row, so none is made.
  if (read !== size) throw new Error(`${file} changed while it was read (${size} bytes, then ${read})`);
  yield TRAILER;
}
