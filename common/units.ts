/**
 * Groups tables into copy units. Big tables get a unit of their own so they run in parallel,
 * and a split table a unit per chunk; small tables share units so that 10,000 tiny tables
 * become a few hundred activities and the workflow history stays small.
 */
import type { CopyUnit, TableRef } from './plan';
import { chunkRanges } from './table-split';

export interface UnitLimits {
  /** A table at least this big is copied alone. */
  soloBytes: number;
  /** At most this many tables share a unit. */
  maxTablesPerUnit: number;
}

/** 250 tiny tables per unit: 10,000 tables make 40 activities, each a few seconds of work. */
export const DEFAULT_UNIT_LIMITS: UnitLimits = { soloBytes: 16 * 1024 * 1024, maxTablesPerUnit: 250 };

export function groupIntoUnits(tables: TableRef[], limits: UnitLimits = DEFAULT_UNIT_LIMITS): CopyUnit[] {
  // Biggest first, so the long copies start early and the tail is made of small ones.
  const sorted = [...tables].sort((a, b) => b.estimatedBytes - a.estimatedBytes);
  const units: CopyUnit[] = [];
  let open: TableRef[] = [];
  let openBytes = 0;
  const close = () => {
    if (open.length) units.push({ id: units.length, tables: open });
    open = [];
    openBytes = 0;
  };
  for (const table of sorted) {
    if (table.split) {
      // A unit per chunk; the table travels without its split (each chunk carries its own range).
      const { split, ...whole } = table;
      for (const chunk of chunkRanges(split)) units.push({ id: units.length, tables: [whole], chunk });
      continue;
    }
    if (table.estimatedBytes >= limits.soloBytes) {
      units.push({ id: units.length, tables: [table] });
      continue;
    }
    open.push(table);
    openBytes += table.estimatedBytes;
    if (open.length >= limits.maxTablesPerUnit || openBytes >= limits.soloBytes) close();
  }
  close();
  return units;
}
