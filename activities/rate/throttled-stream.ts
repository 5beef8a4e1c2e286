/**
 * A pass-through stage for a COPY pipeline that obeys a RateGate. Holding a chunk back (paused,
 * or over the limit) just delays its callback: the stages before it stop being read, down to
 * the source connection's socket, so memory stays bounded and the source's COPY simply waits,
 * inside the same transaction and snapshot, until the chunk moves on.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { RateGate } from './rate-gate';

/** Rows and bytes of table data that went by so far (counted by the stage before). */
export interface CopyCounts {
  rows: number;
  bytes: number;
}

/** `soFar` reads the counts of the stream so far: each chunk is charged what they grew by. */
export function throttledStream(gate: RateGate, soFar: () => CopyCounts): Transform {
  let seen = { ...soFar() };
  let timer: NodeJS.Timeout | undefined;
  let destroyed = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      const now = soFar();
      // Never negative: a binary copy's trailer is counted as a row until its CopyDone is seen.
      const rows = Math.max(0, now.rows - seen.rows);
      const bytes = Math.max(0, now.bytes - seen.bytes);
      seen = { ...now };
      const pass = () => {
        timer = undefined;
        if (!destroyed) callback(null, chunk);
      };
      const go = () => {
        if (destroyed) return;
        const wait = gate.take(rows, bytes);
        if (wait > 0) timer = setTimeout(pass, wait);
        else pass();
      };
      if (gate.paused) void gate.whenRunning().then(go);
      else go();
    },
    destroy(err, callback) {
      destroyed = true;
      if (timer) clearTimeout(timer);
      callback(err);
    },
  });
}
