/**
 * Reads CopyBoth frames from the replication stream one at a time, with a time limit per read
 * so the stream loop can apply a batch or answer its workflow while the source is quiet.
 * Reading pulls from the socket only as fast as frames are applied, so a slow target leaves
 * the backlog in the source's WAL, not in the worker's memory.
 */
import type { Duplex } from 'node:stream';
import type { CopyBothFrame } from './pgoutput-types';
import { parseCopyBothFrame } from './replication-frames';

export class FrameReader {
  private readonly iterator: AsyncIterator<Buffer>;
  private pending?: Promise<IteratorResult<Buffer>>;

  constructor(stream: Duplex) {
    this.iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** The next frame, or undefined if none arrived within `timeoutMs`. */
  async next(timeoutMs: number): Promise<CopyBothFrame | undefined> {
    this.pending ??= this.iterator.next();
    const read = this.pending;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    try {
      const result = await Promise.race([read, timeout]);
      if (result === 'timeout') return undefined;
      this.pending = undefined;
      if (result.done) {
        const err = new Error('Connection terminated: the source ended the replication stream') as Error & { code: string };
        err.code = '08006';
        throw err;
      }
      return parseCopyBothFrame(result.value);
    } finally {
      clearTimeout(timer);
    }
  }
}
