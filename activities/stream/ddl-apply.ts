/**
 * Applies a DDL command captured on the source (ddl-capture.ts) to the target, inside the
 * apply transaction, at its exact place among the row changes: what came before it is applied
 * first (the caller's barrier), the statement runs, and the rows after it meet the new shape.
 *
 * The statement is the one the source ran (ddl-statement.ts picks it from the client's query),
 * under the target's names. DDL on objects the migration leaves out is skipped; what cannot be
 * applied safely stops the stream with a message naming the statement:
 *   - DDL run by a function or DO block (its text is not the client's query);
 *   - a table renamed out of the selection, a user mapping (it may hold a password);
 *   - DDL mixing columns the spec leaves out with migrated ones (ddl-columns.ts: DDL only about
 *     left-out columns is skipped, renamed columns take their target names);
 *   - a new table without a primary key or replica identity at the end of the transaction that
 *     created it (its updates and deletes could not be streamed);
 *   - a row filter that the DDL broke, or a statement the target rejects.
 * A table created with rows (CREATE TABLE AS, SELECT INTO) is created empty and its rows are
 * copied from the source when it joins the publication: the stream's later changes to it are
 * upserts and deletes by key, so they converge on top of the copy.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from 'pg';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { shortStatement, type DdlMessage, type DdlObject, type DdlRecord } from '../../common/ddl';
import { FailureType } from '../../common/failure-types';
import { displayName, tableKey } from '../../common/plan';
import type { TableSelection } from '../../common/selection';
import { qualified, quoteIdent } from '../db';
import { namesIn, pickStatement, rewriteNames, tableRename, targetSearchPath, withNoData, withoutConcurrently, type TargetNames } from './ddl-statement';
import type { StreamMapping } from './stream-mapping';
import { columnNames, computedNewColumns, copyColumnValues } from './computed-columns';
import { planColumns } from './ddl-columns';

type Table = { schema: string; name: string };

/** Statements whose text may hold a password: never applied nor shown. */
const SECRET_TAGS = new Set(['CREATE USER MAPPING', 'ALTER USER MAPPING']);

/** SQLSTATE classes of a statement the target will reject again on a retry. */
const PERMANENT_CLASSES = ['0A', '22', '23', '2B', '42', '44', 'P0'];

export class DdlApplier {
  /** New selected tables of the current source transaction not (yet) in the publication. */
  private readonly unpublished = new Map<string, string>();

  constructor(
    private readonly source: Client,
    private readonly target: Client,
    private readonly mapping: StreamMapping | undefined,
  ) {}

  /** Query texts received in the current source transaction, by their md5 (DdlMessage.queryRef). */
  private readonly queries = new Map<string, string>();

  /** Applies one captured command (the target transaction is open). */
  async apply(received: DdlMessage, lsn: string): Promise<DdlRecord> {
    const message = { ...received, query: this.queryOf(received) };
    const found = message.error ? undefined : pickStatement(message.query, message.tag, message.ordinal);
    if (message.error) throw cannotApply(message.tag, message.query, `the capture on the source failed (${message.error})`);
    if (SECRET_TAGS.has(message.tag)) throw cannotApply(message.tag, undefined, 'a user mapping may hold a password; create it on the target yourself and restart the migration');
    if (!found) throw cannotApply(message.tag, message.query, 'its text is not among the statements the client sent (DDL run by a function, a procedure or a DO block cannot be replicated)');
    const statement = found;
    const skip = (reason: string): DdlRecord => ({ lsn, tag: message.tag, statement: shortStatement(statement), action: 'skipped', reason });

    const objects = message.objects.filter((o) => !isTemporary(o));
    if (message.objects.length > 0 && objects.length === 0) return skip('a temporary object');
    const tables = touchedTables(message);
    const selections = new Map<string, TableSelection | undefined>();
    for (const t of tables) selections.set(tableKey(t), this.mapping?.of(t));
    if (this.mapping) {
      const left = tables.find((t) => !selections.get(tableKey(t)));
      if (left) return skip(`${displayName(left)} is not migrated`);
      const schemas = [...new Set(objects.map((o) => o.schema).filter((s): s is string => !!s))];
      if (!tables.length && schemas.length && !schemas.some((s) => this.mapping!.migratesSchema(s))) return skip(`schema ${schemas.join(', ')} is not migrated`);
    }

    let sql = withoutConcurrently(statement);
    if (this.mapping) sql = this.renameOnTarget(message.tag, sql, tables, selections);
    if (message.tag === 'CREATE TABLE AS') sql = withNoData(sql);
    const names = this.targetNames(selections);
    if (this.mapping) {
      const columns = await this.planColumns(message.tag, sql, tables, selections);
      if (columns.action === 'skip') return skip(columns.reason);
      sql = rewriteNames(columns.sql, message.searchPath, names);
    }
    const searchPath = this.mapping ? targetSearchPath(message.searchPath, names) : message.searchPath;
    // A DROP, or (with a selection) a statement on objects the catalog did not name (GRANT...), may find nothing on the target.
    // So may one on large objects: the stream does not carry them, and one created since the copy reaches the target at cutover.
    const largeObjects = objects.length > 0 && objects.every((o) => o.type?.toLowerCase() === 'large object');
    const mayBeMissing = message.tag.startsWith('DROP ') || largeObjects || (this.mapping !== undefined && !tables.length);
    const altered = message.tag === 'ALTER TABLE' ? await this.columnsBefore(tables) : [];
    const applied = await this.run(sql, searchPath, message.tag, mayBeMissing);
    if (!applied) return { ...skip(largeObjects ? 'the large object is not on the target yet: the cutover brings it, with its owner, comment and grants' : 'not on the target'), statement: shortStatement(sql) };
    const computed = await this.copyComputedColumns(altered);

    if (message.tag === 'SELECT INTO') for (const t of createdTables(message)) await this.target.query(`TRUNCATE ${qualified(this.targetOf(t))}`);
    this.noteCreated(message);
    let rowsCopied: number | undefined;
    for (const identity of message.published) {
      const t = parseIdentity(identity);
      if (!t || !this.unpublished.delete(tableKey(t))) continue;
      // Created earlier in this transaction with its rows: they never went through the stream.
      if (message.tag !== 'CREATE TABLE' || !createdTables(message).some((c) => tableKey(c) === tableKey(t))) rowsCopied = (rowsCopied ?? 0) + (await this.copyRows(t));
    }
    await this.checkRowFilters(tables, selections, statement);
    if (computed !== undefined) rowsCopied = (rowsCopied ?? 0) + computed;
    return { lsn, tag: message.tag, statement: shortStatement(sql), action: 'applied', ...(rowsCopied !== undefined ? { rowsCopied } : {}) };
  }

  private async columnsBefore(tables: Table[]): Promise<Array<{ source: Table; target: Table; columns: Set<string> }>> {
    const out = [];
    for (const t of tables) {
      const target = this.targetOf(t);
      const columns = await columnNames(this.target, target);
      if (columns) out.push({ source: t, target, columns });
    }
    return out;
  }

  /** New columns whose default each row computed (a volatile default): their values come from the source. */
  private async copyComputedColumns(altered: Array<{ source: Table; target: Table; columns: Set<string> }>): Promise<number | undefined> {
    let copied: number | undefined;
    for (const t of altered) {
      const columns = await computedNewColumns(this.target, t.target, t.columns);
      if (columns.length) copied = (copied ?? 0) + (await copyColumnValues(this.source, this.target, t.source, t.target, columns));
    }
    return copied;
  }

  /** The command's query text: in the message, or in an earlier one of its transaction. */
  private queryOf(message: DdlMessage): string {
    if (message.query !== undefined) {
      if (message.queryRef) this.queries.set(message.queryRef, message.query);
      return message.query;
    }
    const known = message.queryRef === undefined ? undefined : this.queries.get(message.queryRef);
    if (known === undefined) throw cannotApply(message.tag, undefined, 'its statement text was not in its transaction (a capture message is missing)');
    return known;
  }

  /** The end of a source transaction: a new table that never joined the publication cannot be streamed. */
  endTransaction(): void {
    // Called for every source transaction: nothing to do for almost all of them.
    if (this.queries.size) this.queries.clear();
    if (!this.unpublished.size) return;
    const [[key, statement] = []] = this.unpublished;
    this.unpublished.clear();
    if (key === undefined) return;
    throw ApplicationFailure.nonRetryable(
      `cannot replicate DDL ${shortStatement(statement!)}: the new table has no primary key or replica identity at the end of the transaction that created it, so its updates and deletes cannot be streamed; give new tables a primary key (or REPLICA IDENTITY FULL) in the transaction that creates them, then start the migration again`,
      FailureType.SourceSchemaChanged,
    );
  }

  /**
   * A table renamed or moved on the source takes, on the target, the name the spec gives its new
   * source name (objects.rename applies by name, so a table renamed away from a rule loses it,
   * and one renamed onto a rule gains it). Refused when the new name leaves the selection (the
   * target would keep a table the stream no longer follows) or the spec's target for it cannot
   * be reached by this one statement.
   */
  private renameOnTarget(tag: string, statement: string, tables: Table[], selections: Map<string, TableSelection | undefined>): string {
    const rename = tableRename(statement);
    if (!rename || tables.length !== 1) return statement;
    const [t] = tables;
    const now = selections.get(tableKey(t))!.target;
    const moved = rename.kind === 'name' ? { schema: t.schema, name: rename.value } : { schema: rename.value, name: t.name };
    const next = this.mapping!.of(moved)?.target;
    if (!next) throw cannotApply(tag, statement, `it renames ${displayName(t)} to ${displayName(moved)}, which the selection (objects) leaves out, so the target would keep a table that is no longer migrated`);
    const reachable = rename.kind === 'name' ? next.schema === now.schema : next.name === now.name;
    if (!reachable) throw cannotApply(tag, statement, `objects migrates ${displayName(moved)} as ${displayName(next)}, which this statement cannot make of ${displayName(now)}`);
    return rename.withValue(rename.kind === 'name' ? next.name : next.schema);
  }

  /**
   * Columns the spec renames or leaves out (ddl-columns.ts): the statement under the target's
   * column names, skipped when it is only about left-out columns, refused when it cannot be told.
   */
  private async planColumns(tag: string, sql: string, tables: Table[], selections: Map<string, TableSelection | undefined>): Promise<{ action: 'apply'; sql: string } | { action: 'skip'; reason: string }> {
    const words = [...namesIn(sql)];
    const ruled = tables.filter((t) => words.some((w) => {
      const fate = this.mapping!.columnFate(t, w);
      return !fate.kept || fate.target !== w;
    }));
    if (!ruled.length) return { action: 'apply', sql };
    const [t] = ruled;
    const fate = (column: string) => this.mapping!.columnFate(t, column);
    const leftOut = new Set([...selections.get(tableKey(t))!.excludedColumns, ...(await this.sourceColumns(t)).filter((c) => !fate(c).kept)]);
    if (tables.length > 1 && words.some((w) => leftOut.has(w) || fate(w).target !== w)) {
      throw cannotApply(tag, sql, `it names columns of ${displayName(t)} that objects renames or leaves out, and other tables too`);
    }
    const plan = planColumns(sql, displayName(t), fate, leftOut);
    if (plan.action === 'refuse') throw cannotApply(tag, sql, plan.reason);
    return plan;
  }

  /** The table's columns on the source now (none once it is dropped). */
  private async sourceColumns(t: Table): Promise<string[]> {
    const { rows } = await this.source.query<{ name: string }>(
      `SELECT a.attname AS name FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = pg_catalog.to_regclass(pg_catalog.format('%I.%I', $1::text, $2::text)) AND a.attnum > 0 AND NOT a.attisdropped`,
      [t.schema, t.name],
    );
    return rows.map((r) => r.name);
  }

  private targetNames(selections: Map<string, TableSelection | undefined>): TargetNames {
    return {
      schema: (schema) => this.mapping?.schemaTarget(schema),
      table: (schema, name) => {
        const s = selections.get(tableKey({ schema, name })) ?? this.mapping?.of({ schema, name });
        return s && (s.target.schema !== s.schema || s.target.name !== s.name) ? s.target : undefined;
      },
    };
  }

  private targetOf(t: Table): Table {
    return this.mapping?.of(t)?.target ?? t;
  }

  /** Runs the statement under the source's search_path; false when what it names is not on the target (and may not be). */
  private async run(sql: string, searchPath: string, tag: string, mayBeMissing: boolean): Promise<boolean> {
    const drop = mayBeMissing;
    const { rows } = await this.target.query<{ p: string }>("SELECT current_setting('search_path') AS p");
    if (drop) await this.target.query('SAVEPOINT pgferry_ddl');
    try {
      await this.target.query('SELECT pg_catalog.set_config($1, $2, true)', ['search_path', searchPath]);
      await this.target.query(sql);
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (drop && ['42P01', '42704', '3F000', '42883'].includes(code)) {
        await this.target.query('ROLLBACK TO SAVEPOINT pgferry_ddl');
        return false;
      }
      if (PERMANENT_CLASSES.includes(code.slice(0, 2))) throw cannotApply(tag, sql, `the target refused it: ${(err as Error).message}`);
      throw err;
    } finally {
      await this.target.query('SELECT pg_catalog.set_config($1, $2, true)', ['search_path', rows[0].p]).catch(() => undefined);
    }
    if (drop) await this.target.query('RELEASE SAVEPOINT pgferry_ddl');
    return true;
  }

  private noteCreated(message: DdlMessage & { query: string }): void {
    if (!['CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO'].includes(message.tag)) return;
    for (const t of createdTables(message)) if (!this.mapping || this.mapping.of(t)) this.unpublished.set(tableKey(t), message.query);
  }

  /** Copies a table's current rows from the source (it just joined the publication). */
  private async copyRows(t: Table): Promise<number> {
    const { rows } = await this.source.query<{ name: string }>(
      `SELECT a.attname AS name FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = pg_catalog.format('%I.%I', $1::text, $2::text)::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
        ORDER BY a.attnum`,
      [t.schema, t.name],
    );
    const selection = this.mapping?.of(t, rows.map((r) => r.name));
    const kept = rows.map((r) => r.name).filter((c) => !selection?.excludedColumns.includes(c));
    const targetColumns = kept.map((c) => quoteIdent(selection?.renameColumns[c] ?? c));
    const where = selection?.where ? ` WHERE ${selection.where}` : '';
    // Whatever the stream put there in this transaction, the copy holds too.
    await this.target.query(`TRUNCATE ONLY ${qualified(this.targetOf(t))}`);
    const out = this.source.query(copyTo(`COPY (SELECT ${kept.map(quoteIdent).join(', ')} FROM ${qualified(t)}${where}) TO STDOUT`));
    const into = this.target.query(copyFrom(`COPY ${qualified(this.targetOf(t))} (${targetColumns.join(', ')}) FROM STDIN`));
    await pipeline(out, into);
    return into.rowCount ?? 0;
  }

  /** A row filter the DDL broke (a column it reads dropped or renamed) stops the stream. */
  private async checkRowFilters(tables: Table[], selections: Map<string, TableSelection | undefined>, statement: string): Promise<void> {
    for (const t of tables) {
      const where = selections.get(tableKey(t))?.where;
      if (!where) continue;
      try {
        await this.source.query(`EXPLAIN SELECT 1 FROM ${qualified(t)} WHERE ${where}`);
      } catch (err) {
        throw ApplicationFailure.nonRetryable(
          `the row filter of ${displayName(t)} (objects.tables.where: ${where}) no longer works after the DDL ${shortStatement(statement)}: ${(err as Error).message}; change the filter and start the migration again`,
          FailureType.SourceSchemaChanged,
        );
      }
    }
  }
}

function cannotApply(tag: string, statement: string | undefined, why: string): ApplicationFailure {
  const what = statement ? `DDL ${shortStatement(statement)}` : `a ${tag} command`;
  return ApplicationFailure.nonRetryable(`cannot replicate ${what} to the target: ${why}`, FailureType.SourceSchemaChanged);
}

function isTemporary(o: DdlObject): boolean {
  return !!o.schema && /^pg_temp/.test(o.schema);
}

/** The tables a command touches: tables themselves, the tables of indexes, columns, constraints; dropped tables. */
function touchedTables(message: DdlMessage): Table[] {
  const out = new Map<string, Table>();
  const add = (t: Table | undefined) => t && !/^pg_temp/.test(t.schema) && out.set(tableKey(t), t);
  for (const o of message.objects) add(o.table ?? (o.type === 'table' && o.identity ? parseIdentity(o.identity) : undefined));
  for (const o of message.dropped) if (o.type === 'table' && o.schema && o.name) add({ schema: o.schema, name: o.name });
  return [...out.values()];
}

function createdTables(message: DdlMessage): Table[] {
  return message.objects.filter((o) => o.type === 'table' && o.kind === 'r' && o.identity && !isTemporary(o)).flatMap((o) => parseIdentity(o.identity) ?? []);
}

/** `schema.table` as object identities print it (each part quoted when it needs to be). */
export function parseIdentity(identity: string): Table | undefined {
  const parts: string[] = [];
  let i = 0;
  while (i < identity.length) {
    if (identity[i] === '"') {
      let j = i + 1;
      let part = '';
      while (j < identity.length) {
        if (identity[j] === '"' && identity[j + 1] === '"') {
          part += '"';
          j += 2;
        } else if (identity[j] === '"') break;
        else part += identity[j++];
      }
      parts.push(part);
      i = j + 2; // the closing quote and the dot
    } else {
      const dot = identity.indexOf('.', i);
      parts.push(identity.slice(i, dot < 0 ? identity.length : dot));
      i = dot < 0 ? identity.length : dot + 1;
    }
  }
  return parts.length === 2 ? { schema: parts[0], name: parts[1] } : undefined;
}
