/**
 * The way back after cutover (spec `incremental.wayBack`): at cutover, a publication and a
 * slot on the target, taken where the source stopped, so that every write the applications
 * make on the target afterwards can be replayed on the source. The migration then stays open
 * in phase `fallback-ready`, streaming target → source, until `pgferry rollback` (the
 * applications go back to the source, which then equals the target) or `pgferry finish`
 * (the way back is given up and everything it used is dropped).
 *
 * Names and shapes shared by the workflow, the activities and the CLI. Deterministic.
 */
import { parsePattern } from './object-patterns';
import type { ReplicationNames } from './replication-names';
import type { MigrationSpec } from './spec';
import type { TableValidation } from './plan';

/** The target-side replication names of the way back, and the source-side replication origin its writes carry. */
export interface WayBackNames extends ReplicationNames {
  /** The replication origin the reverse stream's writes on the source carry (pgferry's own, told apart from the applications'). */
  origin: string;
}

/** Derived from the forward names: `<publication>_back`, slot `<publication>_back`, origin the same. */
export function wayBackNames(forward: ReplicationNames): WayBackNames {
  const base = `${forward.publication}_back`;
  return { publication: base, slotPrefix: base, origin: base };
}

/** What the cutover prepared: the reverse stream's slot on the target, and where it starts. */
export interface WayBackReady {
  slot: string;
  publication: string;
  /** The slot's consistent point on the target: every target write after it is replayed on the source. */
  lsn: string;
  tables: number;
  /** The reverse stream's writes carry the replication origin (false: the source user may not create one). */
  origin: boolean;
  /** When the cutover made the source read-only (its clock); rollback makes it writable again. */
  sourceLockedAt?: string;
}

/** What `pgferry rollback` returns: the source is the primary again and equals the target. */
export interface RollbackResult {
  /** The target position the source is exactly at (the rollback marker on the target). */
  lsn: string;
  /** From the rollback request to the source being writable, in ms. */
  downtimeMs: number;
  /** Target writes replayed on the source since cutover. */
  changesApplied: number;
  transactionsApplied: number;
  sequences: number;
  validation: { mode: 'count' | 'checksum'; tablesChecked: number; mismatches: TableValidation[] };
  /** Sessions ended on the source so that their pools reconnect writable. */
  sourceUnlocked: boolean;
  /** The target was made read-only for new transactions (it stays so: the applications are back on the source). */
  targetLocked: boolean;
  dropped: string[];
}

/** What `pgferry finish` returns: the way back is given up. */
export interface FinishResult {
  changesApplied: number;
  dropped: string[];
}

/** How the way back ended, in the report. */
export type WayBackOutcome =
  | ({ outcome: 'rolled-back'; ready: WayBackReady } & RollbackResult)
  | ({ outcome: 'finished'; ready: WayBackReady } & FinishResult)
  /** The cutover could not prepare it (said why); the migration ended as without one. */
  | { outcome: 'not-prepared'; why: string };

/** `pgferry rollback`'s input (nothing to choose yet: an object, so that options can come without breaking senders). */
export type RollbackRequest = Record<string, never>;

/**
 * Why a spec cannot have a way back, or undefined. The reverse stream replays the target's
 * tables onto the source's under the same names, whole: anything that reshapes data on the
 * way (renames, column lists, row filters, a subset of operations) has no inverse.
 */
export function wayBackRefusal(spec: Pick<MigrationSpec, 'objects' | 'incremental' | 'databases'>): string | undefined {
  const { objects, incremental } = spec;
  if (spec.databases) return 'several databases (databases) cannot have a way back yet: run one migration per database';
  if (Object.keys(objects.rename).length) return `objects.rename renames ${Object.keys(objects.rename).join(', ')}: the way back replays the target's tables onto the source's under the same names`;
  for (const [name, t] of Object.entries(objects.tables)) {
    if (t.rename) return `objects.tables.${name}.rename: the way back replays the target's tables onto the source's under the same names`;
    if (t.columns || t.excludeColumns) return `objects.tables.${name} selects columns: the way back replays whole rows, and the source's other columns would be lost`;
    if (t.where) return `objects.tables.${name}.where filters rows: rows the target never had could not be told from rows deleted there`;
  }
  const column = objects.exclude.find((p) => parsePattern(p, 3).parts.length === 3);
  if (column) return `objects.exclude leaves out the column ${column}: the way back replays whole rows`;
  if (incremental.operations.length < 4 || Object.keys(incremental.tables).length) return 'incremental.operations (or incremental.tables) streams only some operations: the target is then not the source, and replaying it back would not make them equal';
  return undefined;
}

/** What the operator does in phase fallback-ready (status and the Web UI say it). */
export function fallbackNextStep(workflowId: string): string {
  return `the target is live and its writes stream back to the source: \`pgferry rollback ${workflowId}\` to go back to the source, \`pgferry finish ${workflowId}\` once the way back is no longer needed`;
}
