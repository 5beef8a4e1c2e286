/**
 * The selection and renames (objects) as the change stream needs them: for each source table
 * its target name, the columns it keeps (and their target names) and its row filter. Changes
 * arrive with the source's names and every source column; they are judged by the filter
 * (row-filter.ts), then projected onto the target's columns here.
 */
import type { Client } from 'pg';
import type { ObjectsSpec } from '../../common/objects-spec';
import { parseExactName } from '../../common/object-patterns';
import { tableKey } from '../../common/plan';
import { columnFate, selectsEverything, selectTables, type TableSelection } from '../../common/selection';
import { readSelection } from '../objects/read-selection';
import type { RowChange } from './change-batch';
import type { TupleValue } from './pgoutput-types';

export class StreamMapping {
  private constructor(
    private readonly tables: Map<string, TableSelection>,
    private readonly objects: ObjectsSpec,
    private readonly conflicts: 'error' | 'ignore',
    private readonly wholeSchemas: Set<string>,
    /** Partitions' partitioned tables, whose options and patterns decide for them. */
    private readonly roots: Map<string, { schema: string; name: string }> = new Map(),
  ) {}

  /** Undefined when the spec selects and renames nothing (every change maps to itself). */
  static async load(source: Client, objects: ObjectsSpec | undefined, conflicts: 'error' | 'ignore'): Promise<StreamMapping | undefined> {
    if (!objects || selectsEverything(objects)) return undefined;
    const selection = await readSelection(source, objects, conflicts);
    const roots = new Map(selection.catalog.flatMap((t) => (t.root ? [[tableKey(t), t.root] as const] : [])));
    return new StreamMapping(new Map(selection.tables.map((t) => [tableKey(t), t])), objects, conflicts, new Set(selection.wholeSchemas), roots);
  }

  /**
   * The table's selection, or undefined when it is not migrated. A table the stream did not
   * know at its start (created or renamed by DDL) is judged by the same rules (its columns are
   * needed only when column options apply).
   */
  of(table: { schema: string; name: string }, columns?: string[]): TableSelection | undefined {
    const known = this.tables.get(tableKey(table));
    if (known) return known;
    return selectTables(this.objects, [{ schema: table.schema, name: table.name, partitioned: false, columns }], [table.schema], this.conflicts).tables[0];
  }

  /**
   * Whether a column of a selected table is migrated, and under which name: the spec's rules by
   * name, so a column that DDL added or renamed mid-stream is judged like the others.
   */
  columnFate(table: { schema: string; name: string }, column: string): { kept: boolean; target: string } {
    return columnFate(this.objects, this.roots.get(tableKey(table)) ?? table, column);
  }

  /** Whether objects of this schema (views, functions, types...) are migrated. */
  migratesSchema(schema: string): boolean {
    return this.wholeSchemas.has(schema) || [...this.tables.values()].some((t) => t.schema === schema);
  }

  /** The target name of a source schema that objects.rename renames. */
  schemaTarget(schema: string): string | undefined {
    for (const [from, to] of Object.entries(this.objects.rename)) {
      const f = parseExactName(from, 1, 2);
      if (f.length === 1 && f[0] === schema) return parseExactName(to, 1, 1)[0];
    }
    return undefined;
  }
}

/** The change with only the kept columns (indexes into the source's columns), in their order. */
export function projectChange(change: RowChange, keep: number[]): RowChange {
  const project = (tuple: TupleValue[]) => keep.map((i) => tuple[i]);
  switch (change.tag) {
    case 'insert':
      return { ...change, newTuple: project(change.newTuple) };
    case 'delete':
      return { ...change, oldTuple: project(change.oldTuple) };
    default:
      return { ...change, newTuple: project(change.newTuple), oldTuple: change.oldTuple && project(change.oldTuple) };
  }
}
