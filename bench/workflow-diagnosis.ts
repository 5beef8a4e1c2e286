/**
 * What Temporal knows about a migration that failed or is stuck: each workflow's status and
 * failure, and its pending activities (attempt, worker, last failure), for the migration and
 * its running children (copy, stream). The useful part of a benchmark run that fails.
 */
import type { Client } from '@temporalio/client';
import { failureChain } from './cdc-pgferry';

export async function diagnoseWorkflow(client: Client, workflowId: string, depth = 0): Promise<string> {
  const handle = client.workflow.getHandle(workflowId);
  const d = await handle.describe().catch(() => undefined);
  if (!d) return `${workflowId}: not found`;
  const lines = [`${workflowId}: ${d.status.name}`];
  if (d.status.name === 'FAILED' || d.status.name === 'TERMINATED') await handle.result().catch((err) => lines.push(`  ${failureChain(err)}`));
  for (const a of d.raw.pendingActivities ?? []) {
    const failure = a.lastFailure?.message ? `: ${a.lastFailure.message}${a.lastFailure.cause?.message ? ` ← ${a.lastFailure.cause.message}` : ''}` : '';
    lines.push(`  activity ${a.activityType?.name} attempt ${a.attempt} on ${a.lastWorkerIdentity || '(not started)'}${failure}`);
  }
  if (depth === 0) {
    for (const child of d.raw.pendingChildren ?? []) if (child.workflowId) lines.push(await diagnoseWorkflow(client, child.workflowId, depth + 1));
  }
  return lines.join('\n');
}
