/** `pgferry plan`: what a migration would create and copy, read on a worker (only workers hold credentials). */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PlanInput } from '../activities/plan/plan-migration';
import type { MigrationPlanPreview } from '../common/migration-plan';
import * as options from './activity-options';

const { planMigration } = proxyActivities<Activities>(options.precheck);

export async function planWorkflow(input: PlanInput): Promise<MigrationPlanPreview> {
  return planMigration(input);
}
