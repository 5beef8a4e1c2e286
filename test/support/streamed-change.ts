/**
 * A row change as the change stream receives it: encoded as pgoutput (proto.c's Insert and
 * Update layouts) and decoded with rows kept as bytes (raw-row-change.ts), where the decoder
 * keeps them so. Deletes come back as they are: the stream decodes those to values.
 */
import type { RowChange } from '../../activities/stream/change-batch';
import { decodePgOutput } from '../../activities/stream/pgoutput-decoder';
import { UNCHANGED_TOAST, type TupleValue } from '../../activities/stream/pgoutput-types';

function tupleData(values: TupleValue[]): Buffer {
  const count = Buffer.alloc(2);
  count.writeUInt16BE(values.length);
  const parts: Buffer[] = [count];
  for (const v of values) {
    if (v === null) parts.push(Buffer.from('n'));
    else if (v === UNCHANGED_TOAST) parts.push(Buffer.from('u'));
    else {
      const bytes = Buffer.from(v, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      parts.push(Buffer.from('t'), length, bytes);
    }
  }
  return Buffer.concat(parts);
}

function head(tag: 'I' | 'U', relationId: number): Buffer {
  const b = Buffer.alloc(5);
  b.write(tag, 0);
  b.writeUInt32BE(relationId, 1);
  return b;
}

export function streamed(change: RowChange): RowChange {
  if (change.tag === 'delete') return change;
  if (change.tag === 'insert') return decodePgOutput(Buffer.concat([head('I', change.relationId), Buffer.from('N'), tupleData(change.newTuple)]), true) as RowChange;
  const old = change.oldTuple ? [Buffer.from(change.oldKind === 'old' ? 'O' : 'K'), tupleData(change.oldTuple)] : [];
  return decodePgOutput(Buffer.concat([head('U', change.relationId), ...old, Buffer.from('N'), tupleData(change.newTuple)]), true) as RowChange;
}
