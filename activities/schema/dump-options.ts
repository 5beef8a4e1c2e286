/** pg_dump / pg_restore options shared by the pre-data and post-data steps. */
import { DDL_CAPTURE_SCHEMA_PREFIX } from '../../common/ddl';

export interface SchemaOptions {
  /** Tables that already exist in the target (conflicts: ignore): their DDL is left alone. */
  excludeTables: Array<{ schema: string; name: string }>;
  /** False when the target lacks roles the source's objects belong to. */
  keepOwnership: boolean;
}

/** A psql pattern that matches exactly this name: inside double quotes nothing is a wildcard. */
function exactPattern(t: { schema: string; name: string }): string {
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  return `${quote(t.schema)}.${quote(t.name)}`;
}

/** pg_dump options: which tables to leave out, and pgferry's own DDL capture schema (common/ddl.ts). */
export function dumpFilterArgs(options: Pick<SchemaOptions, 'excludeTables'>): string[] {
  return [...options.excludeTables.map((t) => `--exclude-table=${exactPattern(t)}`), `--exclude-schema=${DDL_CAPTURE_SCHEMA_PREFIX}*`];
}

/**
 * A dump entry of pgferry's own objects on the source, never restored: an incremental
 * migration's publications (made before the snapshot, so pg_dump sees them) and its DDL
 * capture's event triggers (common/ddl.ts).
 */
export function isPgferryEntry(entry: { desc: string }): boolean {
  return /^EVENT TRIGGER - pgferry_\S*_ddl_(start|end|drop) /.test(entry.desc) || /^PUBLICATION( TABLE| TABLES IN SCHEMA)? \S+ pgferry_\S*_[0-9a-f]{8}(_[a-z]+)? /.test(entry.desc);
}

/** pg_restore options: whether to restore owners and grants. */
export function restoreOwnershipArgs(options: SchemaOptions): string[] {
  return options.keepOwnership ? [] : ['--no-owner', '--no-privileges'];
}
