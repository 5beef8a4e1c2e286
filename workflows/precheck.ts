/** `pgferry precheck`: only the precheck, run on a worker because only workers hold credentials. */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PrecheckReport } from '../common/plan';
import type { MigrationSpec } from '../common/spec';
import * as options from './activity-options';

const { precheck } = proxyActivities<Activities>(options.precheck);

export async function precheckWorkflow({ spec }: { spec: MigrationSpec }): Promise<PrecheckReport> {
  return precheck({ source: spec.source, target: spec.target, conflicts: spec.conflicts, types: spec.types, incremental: spec.incremental, objects: spec.objects });
}
