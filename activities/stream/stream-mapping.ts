/**
 * The selection and renames (objects) as the change stream needs them: for each source table
 * its target name, the columns it keeps (and their target names) and its row filter. Changes
 * arrive with the source's names and every source column; they are judged by the filter
 * (row-filter.ts), then projected onto the target's columns here.
 */
import type { Client } from 'pg';
import type { ObjectsSpec } from '../../common/objects-spec';
import { tableKey } from '../../common/plan';
import { selectsEverything, type TableSelection } from '../../common/selection';
import { readSelection } from '../objects/read-selection';
import type { RowChange } from './change-batch';
import type { TupleValue } from './pgoutput-types';

export class StreamMapping {
  private constructor(private readonly tables: Map<string, TableSelection>) {}

  /** Undefined when the spec selects and renames nothing (every change maps to itself). */
  static async load(source: Client, objects: ObjectsSpec | undefined, conflicts: 'error' | 'ignore'): Promise<StreamMapping | undefined> {
    if (!objects || selectsEverything(objects)) return undefined;
    const selection = await readSelection(source, objects, conflicts);
    return new StreamMapping(new Map(selection.tables.map((t) => [tableKey(t), t])));
  }

  /** The table's selection, or undefined when it is not migrated. */
  of(table: { schema: string; name: string }): TableSelection | undefined {
    return this.tables.get(tableKey(table));
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
