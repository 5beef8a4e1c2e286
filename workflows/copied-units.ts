/**
 * The copy units in the target and the snapshot each was read under. When the snapshot is
 * lost in the middle of the data phase, this decides what the next data phase copies: only
 * what is not kept. Kept work read under an older snapshot is made exact later by the change
 * stream (common/sync-plan.ts), or needs nothing when the source did not change in between.
 *
 * Pure logic, deterministic: used by the migration workflow.
 */
import { tableKey, type CopyUnit, type TableCopyResult, type TableRef } from '../common/plan';
import type { SyncedPart } from '../common/sync-plan';

export class CopiedUnits {
  private readonly unitOf = new Map<string, CopyUnit>();
  /** Unit id → the snapshot its rows were read under. */
  private readonly under = new Map<number, string>();

  constructor(private readonly units: CopyUnit[]) {
    for (const u of units) for (const t of u.tables) this.unitOf.set(partKey(tableKey(t), u.chunk?.index), u);
  }

  /** A unit reported done by the copy workflow (its results name their snapshot when it was kept from before). */
  record(results: TableCopyResult[], snapshot: string): void {
    const [first] = results;
    const unit = first && this.unitOf.get(partKey(tableKey(first), first.chunk?.index));
    if (unit) this.under.set(unit.id, first.snapshot ?? snapshot);
  }

  /** Whether a table (or one chunk of a split table) is copied and kept. */
  has(table: { schema: string; name: string }, chunk?: number): boolean {
    const unit = this.unitOf.get(partKey(tableKey(table), chunk));
    return unit !== undefined && this.under.has(unit.id);
  }

  pending(): CopyUnit[] {
    return this.units.filter((u) => !this.under.has(u.id));
  }

  /** The snapshots that kept work was read under. */
  snapshots(): string[] {
    return [...new Set(this.under.values())];
  }

  forgetAll(): void {
    this.under.clear();
  }

  /**
   * Block (ctid) ranges do not survive another snapshot: an update may move a row to another
   * block. A table split by blocks is kept only when all its chunks are in (read under one snapshot).
   */
  forgetPartialBlockTables(): void {
    for (const chunks of this.splitTables().values()) {
      if (chunks[0].chunk!.by !== 'blocks') continue;
      if (chunks.some((u) => !this.under.has(u.id))) for (const u of chunks) this.under.delete(u.id);
    }
  }

  /** Whether a table split by blocks has chunks not copied yet (they could not be read under another snapshot). */
  hasIncompleteBlockTables(): boolean {
    return [...this.splitTables().values()].some((chunks) => chunks[0].chunk!.by === 'blocks' && chunks.some((u) => !this.under.has(u.id)));
  }

  /** Split tables none of whose chunks is kept: emptied before the copy (rows and chunk records). */
  toEmpty(): { tables: TableRef[]; unitIds: number[] } {
    const tables: TableRef[] = [];
    const unitIds: number[] = [];
    for (const chunks of this.splitTables().values()) {
      if (chunks.some((u) => this.under.has(u.id))) continue;
      tables.push(chunks[0].tables[0]);
      unitIds.push(...chunks.map((u) => u.id));
    }
    return { tables, unitIds };
  }

  /** Kept chunks per split table (the copy workflow finishes a table when its count is reached). */
  chunksDone(): Record<string, number> {
    const done: Record<string, number> = {};
    for (const [key, chunks] of this.splitTables()) {
      const kept = chunks.filter((u) => this.under.has(u.id)).length;
      if (kept) done[key] = kept;
    }
    return done;
  }

  /** Split tables whose chunks are all kept: finished again (indexes that exist are skipped). */
  toFinish(): TableRef[] {
    return [...this.splitTables().values()].filter((chunks) => chunks.every((u) => this.under.has(u.id))).map((chunks) => chunks[0].tables[0]);
  }

  /** What was read at which position, for the change stream's sync plan. */
  parts(positionOf: (snapshot: string) => string): SyncedPart[] {
    const parts: SyncedPart[] = [];
    for (const unit of this.units) {
      const snapshot = this.under.get(unit.id);
      if (snapshot === undefined) continue;
      const lsn = positionOf(snapshot);
      for (const t of unit.tables) {
        const range = unit.chunk?.by === 'key' ? { column: unit.chunk.column!, ...(unit.chunk.from !== undefined ? { from: unit.chunk.from } : {}), ...(unit.chunk.to !== undefined ? { to: unit.chunk.to } : {}) } : undefined;
        parts.push({ schema: t.schema, name: t.name, lsn, ...(range ? { range } : {}) });
      }
    }
    return parts;
  }

  /** Chunk units by their table's key. */
  private splitTables(): Map<string, CopyUnit[]> {
    const tables = new Map<string, CopyUnit[]>();
    for (const u of this.units) {
      if (!u.chunk) continue;
      const key = tableKey(u.tables[0]);
      tables.set(key, [...(tables.get(key) ?? []), u]);
    }
    return tables;
  }
}

function partKey(table: string, chunk: number | undefined): string {
  return chunk === undefined ? table : `${table}#${chunk}`;
}
