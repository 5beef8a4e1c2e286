/**
 * Types for pg-copy-streams' `both()` (CopyBoth, used by START_REPLICATION): the runtime
 * module exports it, @types/pg-copy-streams does not. This augments that module.
 */
import type { Connection, Submittable } from 'pg';
import type { Duplex, DuplexOptions } from 'stream';

declare module 'pg-copy-streams' {
  /**
   * A CopyBoth query: pass it to `client.query()`. Reading yields CopyData payloads (one whole
   * payload per chunk with `alignOnCopyDataFrame: true`); each written chunk is sent as one
   * CopyData message; `end()` sends CopyDone.
   */
  export interface CopyBothQuery extends Duplex, Submittable {
    text: string;
    submit(connection: Connection): void;
  }

  export function both(text: string, options?: DuplexOptions & { alignOnCopyDataFrame?: boolean }): CopyBothQuery;
}
