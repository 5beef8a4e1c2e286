/**
 * What one copy lane moves per second, measured on the big table of a migration without a kill:
 * each chunk's COPY bytes and time, from the results its copyUnit activities returned in the
 * copy child workflow's history (`<id>/copy-1`). A chunk copies alone in its lane, so its rate
 * is one lane's; the table's bytes over the span from the first chunk's start to the last one's
 * end is what all the lanes moved together.
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { TableCopyResult } from '../common/plan';
import { BIG_TABLE } from './resume-dataset';

export interface ChunkTiming {
  index: number;
  bytes: number;
  ms: number;
  /** When its activity completed (epoch ms). */
  endedAt: number;
  worker?: string;
}

export interface LaneThroughput {
  chunks: ChunkTiming[];
  /** COPY bytes of the whole table. */
  bytes: number;
  /** First chunk's start to last chunk's end. */
  spanMs: number;
  /** All lanes together, COPY bytes per second. */
  aggregate: number;
  /** One lane: the chunks' bytes over their summed times. */
  perLane: number;
}

export async function bigTableLanes(client: Client, workflowId: string): Promise<LaneThroughput> {
  const history = await client.workflow.getHandle(`${workflowId}/copy-1`).fetchHistory();
  const chunks: ChunkTiming[] = [];
  for (const event of history.events ?? []) {
    const payload = event.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
    if (!payload || !event.eventTime) continue;
    const results = defaultPayloadConverter.fromPayload<TableCopyResult[] | undefined>(payload);
    if (!Array.isArray(results)) continue; // another activity's result
    const endedAt = Number(event.eventTime.seconds) * 1000 + Math.floor((event.eventTime.nanos ?? 0) / 1e6);
    for (const r of results) {
      if (r.chunk && r.schema === BIG_TABLE.schema && r.name === BIG_TABLE.name) chunks.push({ index: r.chunk.index, bytes: r.bytes, ms: r.ms, endedAt, worker: r.worker });
    }
  }
  if (!chunks.length) throw new Error(`${workflowId}: no chunk of ${BIG_TABLE.name} in the copy's history (was the table split?)`);
  chunks.sort((a, b) => a.index - b.index);
  const bytes = chunks.reduce((s, c) => s + c.bytes, 0);
  const spanMs = Math.max(...chunks.map((c) => c.endedAt)) - Math.min(...chunks.map((c) => c.endedAt - c.ms));
  const busyMs = chunks.reduce((s, c) => s + c.ms, 0);
  return { chunks, bytes, spanMs, aggregate: (bytes / spanMs) * 1000, perLane: (bytes / busyMs) * 1000 };
}
