/** What each activity of a workflow returned, by activity type (the last completion of each), from its history. */
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';

export async function activityResults(handle: WorkflowHandle): Promise<Map<string, Record<string, unknown>>> {
  const events = (await handle.fetchHistory()).events ?? [];
  const typeOf = new Map(events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType!.name!]));
  return new Map(
    events
      .filter((e) => e.activityTaskCompletedEventAttributes)
      .map((e) => {
        const done = e.activityTaskCompletedEventAttributes!;
        return [typeOf.get(String(done.scheduledEventId))!, defaultPayloadConverter.fromPayload<Record<string, unknown>>(done.result!.payloads![0])];
      }),
  );
}
