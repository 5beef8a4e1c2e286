/**
 * Several databases in one migration: a parent workflow runs one migration (child workflow)
 * per database. These are the facts it shares with the CLI: per-database progress, the
 * combined report and the combined cutover. Free of Node built-ins (the workflow uses them).
 */
import type { CutoverRequest, CutoverResult, MigrationReport, Phase } from './plan';
import type { MigrationSpec } from './spec';

export const MULTI_DATABASE_WORKFLOW = 'multiDatabaseWorkflow';
export const DATABASE_PHASE_SIGNAL = 'databasePhase';

export type DatabaseState = 'pending' | Phase;

export interface DatabaseProgress {
  /** Source database name. */
  database: string;
  target: string;
  workflowId: string;
  state: DatabaseState;
  error?: string;
}

export interface MultiDatabaseProgress {
  kind: 'databases';
  databases: DatabaseProgress[];
  startedAt: number;
}

export interface DatabaseOutcome {
  database: string;
  target: string;
  workflowId: string;
  state: 'completed' | 'failed' | 'cancelled';
  report?: MigrationReport;
  error?: string;
}

export interface MultiDatabaseReport {
  kind: 'databases';
  databases: DatabaseOutcome[];
  totalRows: number;
  totalBytes: number;
  totalMs: number;
}

/** The combined cutover: every streaming database at once, or the ones named. */
export interface MultiCutoverRequest extends CutoverRequest {
  databases?: string[];
}

export type MultiCutoverResult = Record<string, CutoverResult>;

/** A child's phase change, signalled to the parent. */
export interface DatabasePhase {
  workflowId: string;
  phase: Phase;
}

/** The child migration of one database: the spec with that database on both sides. */
export function databaseSpec(spec: MigrationSpec, entry: NonNullable<MigrationSpec['databases']>[number]): MigrationSpec {
  const { databases: _all, ...rest } = spec;
  return {
    ...rest,
    source: { ...spec.source, database: entry.source },
    target: { ...spec.target, database: entry.target ?? entry.source },
    objects: entry.objects ?? spec.objects,
  };
}

/** A child's workflow id: readable, and unique per source database. */
export function databaseWorkflowId(parentId: string, database: string): string {
  return `${parentId}/db-${database}`;
}
