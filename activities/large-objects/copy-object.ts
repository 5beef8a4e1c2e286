/**
 * Copies one large object's bytes from a source session (reading under its snapshot) into a
 * target session, piece by piece: memory holds at most two pieces (the one being written and
 * the next one, read meanwhile), whatever the object's size.
 */
import type { Client } from 'pg';
import type { RateGate } from '../rate/rate-gate';
import { chainPiece } from './object-checksum';
import { PIECE_BYTES, prepareTargetObject, readPiece, writePiece } from './large-object-sql';

export interface ObjectToCopy {
  oid: number;
  /** Its size on the source, as read in the same snapshot. */
  size: number;
  /** Bytes already committed in the target by an earlier attempt (0: from the start). */
  from: number;
  /** The checksum chain of those bytes. */
  chain: string;
}

export interface CopyObjectOptions {
  /** Hash each piece on the source as it is read (validation: checksum). */
  withMd5: boolean;
  /** Pause and throttle (absent: unlimited). */
  gate?: RateGate;
  /** Called after each piece is written, with its length. */
  onBytes?: (bytes: number) => void;
  /** Called every `checkpointBytes` inside the object (not at its end): commit, with how far it got. */
  checkpoint?: (copied: number, chain: string) => Promise<void>;
  checkpointBytes?: number;
}

/** Writes the object into the target (created if missing, cut to `from`) and returns the chain of all its bytes. */
export async function copyObject(src: Client, tgt: Client, object: ObjectToCopy, options: CopyObjectOptions): Promise<string> {
  await prepareTargetObject(tgt, object.oid, object.from);
  let offset = object.from;
  let chain = object.chain;
  let sinceCheckpoint = 0;
  const read = (at: number) => {
    const piece = readPiece(src, object.oid, at, Math.min(PIECE_BYTES, object.size - at), options.withMd5);
    // It may fail while a write is awaited (connection cut): handled where it is awaited, not
    // left as an unhandled rejection that would end the worker process.
    piece.catch(() => undefined);
    return piece;
  };
  let next = offset < object.size ? read(offset) : undefined;
  while (next) {
    const piece = await next;
    const at = offset;
    offset += piece.data.length;
    if (piece.data.length === 0) throw new Error(`large object ${object.oid} ended at byte ${at} on the source, before its size ${object.size}`);
    next = offset < object.size ? read(offset) : undefined; // read ahead while this piece is written
    await options.gate?.admit(0, piece.data.length);
    await writePiece(tgt, object.oid, at, piece.data);
    if (options.withMd5) chain = chainPiece(chain, piece.md5!);
    options.onBytes?.(piece.data.length);
    sinceCheckpoint += piece.data.length;
    if (options.checkpoint && sinceCheckpoint >= (options.checkpointBytes ?? Infinity) && offset < object.size) {
      await options.checkpoint(offset, chain);
      sinceCheckpoint = 0;
    }
  }
  return chain;
}
