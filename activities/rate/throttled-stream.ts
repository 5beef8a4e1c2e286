/**
 * A pass-through stage for a COPY pipeline that obeys a RateGate. Holding a chunk back (paused,
 * or over the limit) just delays its callback: the stages before it stop being read, down to
 * the source connection's socket, so memory stays bounded and the source's COPY simply waits,
 * inside the same transaction and snapshot, until the chunk moves on.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { RateGate } from './rate-gate';

/** `rowsSoFar` reads the row count of the stream so far (counted by the stage before). */
export function throttledStream(gate: RateGate, rowsSoFar: () => number): Transform {
  let rowsSeen = rowsSoFar();
  let timer: NodeJS.Timeout | undefined;
  let destroyed = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      const rows = rowsSoFar() - rowsSeen;
      rowsSeen += rows;
      const pass = () => {
        timer = undefined;
        if (!destroyed) callback(null, chunk);
      };
      const go = () => {
        if (destroyed) return;
        const wait = gate.take(rows, chunk.length);
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
