/**
 * Step 6 of the migration, validation, and the comparison at cutover: the target's row counts
 * (and checksums) against what the copy read under the snapshot, its large objects against
 * their records, and at an incremental cutover the live source against the target. Tables go
 * to the activities in batches, so payloads stay small for huge schemas.
 */
import { ApplicationFailure, deprecatePatch } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import type { LargeObjectValidation } from '../common/large-objects';
import { tableKey, type CutoverResult, type TableRef, type TableValidation } from '../common/plan';
import type { LargeObjectProgress } from './large-object-progress';
import { mapLimited } from './map-limited';
import { acts } from './migration-activities';
import type { MigrationRun } from './migration-run';

/** Tables validated per activity call, to keep payloads small for very large schemas. */
const VALIDATION_BATCH = 500;

export interface TablesChecked {
  checked: number;
  mismatches: TableValidation[];
}

/** Row counts (and checksums) of the target against the values read under the snapshot. */
export async function validateTables(run: MigrationRun, tables: TableRef[]): Promise<TablesChecked> {
  const { spec, state } = run;
  const expected = tables
    .filter((t) => !t.preexisting)
    .map((t) => {
      const r = state.results.get(tableKey(t));
      return { schema: t.schema, name: t.name, rows: r?.rows ?? 0, checksum: r?.sourceChecksum };
    });
  const batches: (typeof expected)[] = [];
  for (let i = 0; i < expected.length; i += VALIDATION_BATCH) batches.push(expected.slice(i, i + VALIDATION_BATCH));
  const check = (tables: typeof expected) => acts.validateTables({ source: spec.source, target: spec.target, retry: spec.retry, mode: spec.validation, tables });
  // Batches side by side, as many as tables are copied at once. Every recorded history that
  // validates ran the patched() branch of this (its one-by-one branch is gone): the marker stays
  // so that workers still running patched('parallel-validation') replay runs of this code.
  deprecatePatch('parallel-validation');
  const results = (await mapLimited(batches, spec.parallelism.tables, check)).flat();
  // Counted from the answers, so a batch that went missing could not pass as checked.
  return { checked: results.length, mismatches: results.filter((r) => !r.ok) };
}

/** The target's large objects against what the copy read from the source under the snapshot. */
export async function validateObjects(run: MigrationRun, progress: LargeObjectProgress, snapshotName: string): Promise<LargeObjectValidation> {
  const { spec } = run;
  const result = await acts.validateLargeObjects({
    target: spec.target,
    retry: spec.retry,
    mode: spec.validation,
    migrationId: run.id,
    snapshot: snapshotName,
    expectedObjects: progress.copiedObjects(),
  });
  progress.validation = result;
  run.refreshDetails();
  return result;
}

/** Live source against target, in batches (at cutover). */
export async function compareTables(run: MigrationRun, all: TableRef[]): Promise<CutoverResult['validation']> {
  const { spec } = run;
  // Tables kept from before (conflicts: ignore) hold rows the source never had: not comparable.
  const tables = all.filter((t) => !t.preexisting);
  const mismatches: TableValidation[] = [];
  for (let i = 0; i < tables.length; i += VALIDATION_BATCH) {
    const batch = tables.slice(i, i + VALIDATION_BATCH).map((t) => ({ schema: t.schema, name: t.name, target: t.target, columns: t.columns, where: t.where }));
    const results = await acts.compareTables({ ...run.endpoints, mode: spec.validation, tables: batch });
    mismatches.push(...results.filter((r) => !r.ok));
  }
  return { mode: spec.validation, tablesChecked: tables.length, mismatches };
}

export function validationFailure(mismatches: TableValidation[]): ApplicationFailure {
  const described = mismatches
    .slice(0, 5)
    .map((m) => `${m.schema}.${m.name} (expected ${m.expectedRows} rows, found ${m.actualRows}${m.expectedChecksum ? ', checksum differs' : ''})`);
  return ApplicationFailure.nonRetryable(`validation failed for ${mismatches.length} table(s): ${described.join('; ')}`, FailureType.ValidationFailed, mismatches.slice(0, 50));
}

export function largeObjectFailure(step: string, v: LargeObjectValidation): ApplicationFailure {
  const described = v.mismatches.slice(0, 5).map((m) => (m.oid ? `${m.oid}: ${m.problem}` : m.problem));
  return ApplicationFailure.nonRetryable(`${step} of large objects failed: ${described.join('; ')}`, FailureType.ValidationFailed, v.mismatches);
}

/** Tables that were in the target before (conflicts: ignore) are not validated: says so. */
export function warnSkippedValidation(run: MigrationRun, tables: TableRef[]): void {
  const skipped = tables.filter((t) => t.preexisting).length;
  if (skipped) run.warn(`${skipped} table(s) existed in the target before (conflicts: ignore) and were not validated`);
}
