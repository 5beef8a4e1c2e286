/**
 * What the stream knows about each source relation: pgoutput sends a Relation message before a
 * table's first change and again after its definition changes. The first one is checked
 * against the target table (same columns, same types); a later one that differs means DDL ran
 * on the source during the migration, which logical replication does not carry: that stops the
 * stream with a clear account of what changed instead of applying rows to the wrong columns.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from 'pg';
import { displayName } from '../../common/plan';
import { FailureType } from '../../common/failure-types';
import type { Operation } from '../../common/spec';
import type { OperationsConfig } from '../../common/stream';
import type { RelationMessage } from './pgoutput-types';
import { keyOrderOf, readTargetColumns, type ApplyTable } from './target-table';
import type { StreamMapping } from './stream-mapping';

/** A column as compared across definitions: its name and type as format_type prints it. */
export interface NamedColumn {
  name: string;
  type: string;
}

interface Known {
  message: RelationMessage;
  columns: NamedColumn[];
  table: ApplyTable;
  /** DDL was applied to the target since: the next definition is checked against the target again. */
  stale?: boolean;
}

export class RelationCache {
  private readonly known = new Map<number, Known>();

  constructor(
    private readonly source: Client,
    private readonly target: Client,
    private readonly operations: OperationsConfig,
    private readonly mapping?: StreamMapping,
  ) {}

  table(relationId: number): ApplyTable {
    const known = this.known.get(relationId);
    if (!known) throw new Error(`pgoutput sent a change for relation ${relationId} before describing it`);
    return known.table;
  }

  /** Replicated DDL changed the target: every table's next definition is checked against it afresh. */
  markStale(): void {
    for (const k of this.known.values()) k.stale = true;
  }

  async learn(message: RelationMessage): Promise<void> {
    const name = displayName(message);
    const previous = this.known.get(message.relationId);
    // pgoutput sends the same definition again after truncates and cache resets: nothing to check.
    if (previous && !previous.stale && sameDefinition(previous.message, message)) return;
    const sourceColumns = await this.sourceColumns(message);
    if (previous && !previous.stale) {
      const changes = describeChanges(previous.columns, sourceColumns);
      if (changes.length) throw schemaChanged(name, changes);
      return;
    }
    const selection = this.mapping?.of(message, message.columns.map((c) => c.name));
    if (this.mapping && !selection) {
      // Not selected (only selected tables are published, but a publication may be shared).
      const ignored: ApplyTable = { schema: message.schema, name: message.name, columns: [], keyColumns: [], operations: new Set(), source: { ignored: true } };
      this.known.set(message.relationId, { message, columns: sourceColumns, table: ignored });
      return;
    }
    const target = selection?.target ?? message;
    // By the spec's rules rather than the selection's lists, which name only the columns there at the start.
    const fate = (name: string) => (this.mapping && selection ? this.mapping.columnFate(message, name) : { kept: true, target: name });
    const keep = message.columns.flatMap((c, i) => (fate(c.name).kept ? [i] : []));
    const targetName = (i: number) => fate(message.columns[i].name).target;
    const keptColumns = keep.map((i) => ({ name: targetName(i), type: sourceColumns[i].type }));
    const targetColumns = await readTargetColumns(this.target, target.schema, target.name);
    const changes = describeChanges(targetColumns, keptColumns, false);
    if (changes.length) throw schemaChanged(name, changes, `the target table ${displayName(target)}`);
    // Same columns; take them in the order the source sends values.
    const byName = new Map(targetColumns.map((c) => [c.name, c]));
    const columns = keep.map((i) => byName.get(targetName(i))!);
    const sourceKey = message.columns.flatMap((c, i) => (c.isKey ? [i] : []));
    if (message.replicaIdentity !== 'f' && sourceKey.some((i) => !keep.includes(i))) {
      throw ApplicationFailure.nonRetryable(`source table ${name}: a replica identity column is left out of the migration (objects), so its changes cannot find their rows in the target; keep the key columns or set REPLICA IDENTITY FULL on the source`, FailureType.SourceSchemaChanged);
    }
    const keyColumns = message.replicaIdentity === 'f' ? [] : keep.flatMap((i, j) => (message.columns[i].isKey ? [j] : []));
    const operations = this.operationsOf(name);
    // Without a key, only inserts (and truncates) can be applied: rows are told apart by nothing.
    if (!keyColumns.length && message.replicaIdentity !== 'f' && (operations.has('update') || operations.has('delete'))) {
      throw ApplicationFailure.nonRetryable(
        `source table ${name} has no replica identity (no primary key): its updates and deletes cannot be replicated; run ALTER TABLE ${name} REPLICA IDENTITY FULL on the source`,
        FailureType.SourceSchemaChanged,
      );
    }
    const table: ApplyTable = { schema: target.schema, name: target.name, columns, keyColumns, operations, partitioned: targetColumns.partitioned };
    const keyOrder = keyOrderOf(targetColumns, columns, keyColumns);
    if (keyOrder) table.keyOrder = keyOrder;
    if (selection && (keep.length < message.columns.length || selection.where)) {
      table.source = { keep: keep.length < message.columns.length ? keep : undefined };
      if (selection.where) {
        table.source.filter = {
          where: selection.where,
          source: { schema: message.schema, name: message.name },
          columns: message.columns.map((c) => c.name),
          types: sourceColumns.map((c) => c.type),
          keyColumns: message.replicaIdentity === 'f' ? [] : sourceKey,
        };
      }
    }
    this.known.set(message.relationId, { message, columns: sourceColumns, table });
  }

  private operationsOf(name: string): ReadonlySet<Operation> {
    return new Set(this.operations.tables[name]?.operations ?? this.operations.operations);
  }

  private async sourceColumns(message: RelationMessage): Promise<NamedColumn[]> {
    const { rows } = await this.source.query<{ t: string }>(
      'SELECT pg_catalog.format_type(o, CASE WHEN m < 0 THEN NULL ELSE m END) AS t FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS u(o, m, i) ORDER BY i',
      [message.columns.map((c) => c.typeOid), message.columns.map((c) => c.typeMod)],
    );
    return rows.map((r, i) => ({ name: message.columns[i].name, type: r.t }));
  }
}

function sameDefinition(a: RelationMessage, b: RelationMessage): boolean {
  return (
    a.schema === b.schema &&
    a.name === b.name &&
    a.replicaIdentity === b.replicaIdentity &&
    a.columns.length === b.columns.length &&
    a.columns.every((c, i) => c.name === b.columns[i].name && c.typeOid === b.columns[i].typeOid && c.typeMod === b.columns[i].typeMod && c.isKey === b.columns[i].isKey)
  );
}

/** Differences between two column lists, in words ("column note integer added"). */
export function describeChanges(before: NamedColumn[], after: NamedColumn[], orderMatters = true): string[] {
  const changes: string[] = [];
  const oldTypes = new Map(before.map((c) => [c.name, c.type]));
  const newTypes = new Map(after.map((c) => [c.name, c.type]));
  for (const [col, type] of newTypes) {
    if (!oldTypes.has(col)) changes.push(`column ${col} ${type} added`);
    else if (oldTypes.get(col) !== type) changes.push(`column ${col} changed type from ${oldTypes.get(col)} to ${type}`);
  }
  for (const col of oldTypes.keys()) if (!newTypes.has(col)) changes.push(`column ${col} dropped`);
  if (orderMatters && !changes.length && before.map((c) => c.name).join('\0') !== after.map((c) => c.name).join('\0')) {
    changes.push(`columns reordered to (${after.map((c) => c.name).join(', ')})`);
  }
  return changes;
}

function schemaChanged(name: string, changes: string[], comparedTo = 'when the stream started'): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `source table ${name} changed during the migration (${changes.join('; ')}, compared with ${comparedTo}); DDL is not replicated: apply the same change to the target table, or restart the migration`,
    FailureType.SourceSchemaChanged,
  );
}
