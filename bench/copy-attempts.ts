/**
 * Copy units that were interrupted and run again, from the copy workflows' histories
 * (`<id>/copy-1`, `<id>/copy-2`... one per data phase): a unit whose copyUnit activity started
 * more than once (a retry after its worker died) or ended without a result (its unit is then
 * run by the next data phase), but for a unit that only failed to import a lost snapshot: it
 * read nothing. The ground truth beside the report's `redone`, which adds up the progress the
 * copies had reported when the snapshot was lost.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { FailureType } from '../common/failure-types';
import type { CopyUnit } from '../common/plan';
import { describeChunk } from '../common/table-split';

export async function interruptedUnits(client: Client, workflowId: string): Promise<string[]> {
  const interrupted = new Map<number, string>();
  for (let generation = 1; ; generation += 1) {
    const events = await copyHistory(client, `${workflowId}/copy-${generation}`);
    if (!events) break;
    const units = new Map<string, CopyUnit>(); // scheduled event id → its unit
    for (const e of events) {
      const a = e.activityTaskScheduledEventAttributes;
      const input = a?.input?.payloads?.[0];
      if (a?.activityType?.name === 'copyUnit' && input) units.set(String(e.eventId), defaultPayloadConverter.fromPayload<{ unit: CopyUnit }>(input).unit);
    }
    for (const e of events) {
      const retried = (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1;
      const failed = e.activityTaskFailedEventAttributes;
      const importFailed = failed?.failure?.applicationFailureInfo?.type === FailureType.SnapshotLost;
      const ended = e.activityTaskTimedOutEventAttributes ?? (importFailed ? undefined : failed) ?? e.activityTaskCanceledEventAttributes;
      const scheduled = e.activityTaskStartedEventAttributes?.scheduledEventId ?? ended?.scheduledEventId;
      const unit = scheduled !== undefined && scheduled !== null ? units.get(String(scheduled)) : undefined;
      if (unit && (retried || ended)) interrupted.set(unit.id, describeUnit(unit));
    }
  }
  return [...interrupted.values()];
}

/** Undefined when there was no such data phase (describe names that error; fetchHistory does not). */
async function copyHistory(client: Client, id: string) {
  const handle = client.workflow.getHandle(id);
  try {
    await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  return (await handle.fetchHistory()).events ?? [];
}

function describeUnit(unit: CopyUnit): string {
  const [first] = unit.tables;
  if (unit.chunk) return `${first.name} ${describeChunk(unit.chunk).replace(/ \(.*\)$/, '')}`;
  return unit.tables.length === 1 ? first.name : `${unit.tables.length} tables (${first.name} …)`;
}
