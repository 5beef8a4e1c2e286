/**
 * Feeds values to an array builder (activities/stream/binary-array.ts) the two ways the stream
 * does: as strings (decoded rows, keys), or as bytes inside a larger frame (rows kept as
 * pgoutput sent them). Unit tests compare the two parameters.
 */
import type { BinaryArrayBuilder } from '../../activities/stream/binary-array';

export function fromStrings(builder: BinaryArrayBuilder, values: Array<string | null>): Buffer {
  for (const v of values) builder.add(v);
  return builder.finish();
}

export function fromBytes(builder: BinaryArrayBuilder, values: Array<string | null>): Buffer {
  const frame = Buffer.from(`xx${values.map((v) => v ?? '').join('|')}yy`, 'latin1');
  let at = 2;
  for (const v of values) {
    if (v === null) builder.addNull();
    else builder.addBytes(frame, at, v.length);
    at += (v ?? '').length + 1;
  }
  return builder.finish();
}
