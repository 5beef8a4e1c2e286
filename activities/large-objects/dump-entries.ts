/**
 * The schema dump's large-object entries: `BLOB` (lo_create and the owner; `BLOB METADATA` from
 * pg_dump 17 on) and the comments, grants and security labels on a `LARGE OBJECT n`. They are
 * pre-data entries that no schema selection reaches, kept or left out all together: pgferry
 * leaves them out of pre-data (its copy creates the objects with their metadata, or none are
 * migrated).
 */
import type { TocEntry } from '../schema/existing-objects';

const OBJECT_ENTRY = /^BLOB( METADATA)? /;
const ATTACHED_ENTRY = /^(COMMENT|ACL|SECURITY LABEL) - LARGE OBJECTS? /;

export function largeObjectEntryIds(entries: TocEntry[]): number[] {
  return entries.filter((e) => OBJECT_ENTRY.test(e.desc) || ATTACHED_ENTRY.test(e.desc)).map((e) => e.dumpId);
}

/** The dump ids to leave out, with every large-object entry kept (`wanted`) or left out. */
export function withLargeObjects(skip: number[], entries: TocEntry[], wanted: boolean): number[] {
  const ids = new Set(largeObjectEntryIds(entries));
  const rest = skip.filter((id) => !ids.has(id));
  return wanted ? rest : [...rest, ...ids];
}
