/** The workflow that scheduled the running activity (always there for workflow activities). */
import { Context } from '@temporalio/activity';

export function owningWorkflow(): { workflowId: string; runId: string } {
  const execution = Context.current().info.workflowExecution;
  if (!execution) throw new Error('pgferry activities run only inside a workflow');
  return execution;
}
