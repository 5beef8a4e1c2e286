/** `pgferry precheck`: only the precheck, run on a worker because only workers hold credentials. */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PrecheckInput } from '../activities/precheck/precheck';
import type { PrecheckReport } from '../common/precheck';
import type { MigrationSpec } from '../common/spec';
import * as options from './activity-options';

const { precheck } = proxyActivities<Activities>(options.precheck);

/** The same input in both workflows, so `pgferry precheck` shows what a migration would find. */
export function precheckInput(spec: MigrationSpec): PrecheckInput {
  return { source: spec.source, target: spec.target, conflicts: spec.conflicts, types: spec.types, incremental: spec.incremental, precheck: spec.precheck, objects: spec.objects };
}

export async function precheckWorkflow({ spec }: { spec: MigrationSpec }): Promise<PrecheckReport> {
  return precheck(precheckInput(spec));
}
