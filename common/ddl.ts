/**
 * DDL replication (incremental.ddl: replicate): the names of what pgferry installs on the
 * source to capture DDL, the message it emits, and what the stream reports about the DDL it
 * applied. Deterministic and free of Node built-ins: the workflow uses these too.
 */
import type { ReplicationNames } from './replication-names';

/** The source-side objects of one migration's DDL capture, all dropped with its slot and publication. */
export interface DdlCaptureNames {
  /** Schema holding the capture functions (dropped with CASCADE); pg_dump leaves it out. */
  schema: string;
  /** Event triggers on ddl_command_end and sql_drop. */
  endTrigger: string;
  dropTrigger: string;
  /** ddl_command_start: DDL waits there while the copy runs (the gate, activities/replication/ddl-gate.ts). */
  startTrigger: string;
  /** The advisory lock (two int4 keys) the copy's snapshot holder keeps while the copy runs. */
  gateLock: [number, number];
  /** Prefix of the transactional logical messages carrying each DDL command. */
  messagePrefix: string;
}

/** Every DDL capture schema starts with this (pg_dump excludes the pattern). */
export const DDL_CAPTURE_SCHEMA_PREFIX = '_pgferry_ddl_';

export function ddlCaptureNames(names: ReplicationNames): DdlCaptureNames {
  const base = names.publication.replace(/^pgferry_/, '');
  return {
    schema: `${DDL_CAPTURE_SCHEMA_PREFIX}${base}`.slice(0, 63),
    endTrigger: `${names.publication}_ddl_end`.slice(0, 63),
    dropTrigger: `${names.publication}_ddl_drop`.slice(0, 63),
    startTrigger: `${names.publication}_ddl_start`.slice(0, 63),
    gateLock: [0x70676672, int32Hash(names.publication)],
    messagePrefix: `pgferry-ddl:${names.publication}`,
  };
}

/** FNV-1a of the text as a signed 32-bit integer (an advisory lock key). */
function int32Hash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}

/** One object a DDL command touched, as pg_event_trigger_ddl_commands() / pg_event_trigger_dropped_objects() list it. */
export interface DdlObject {
  /** `table`, `index`, `sequence`, `view`, `function`, `type`, `table column`... */
  type: string;
  schema: string | null;
  /** The object's identity (`public.items`, `public.items.note` for a column). */
  identity: string;
  /** Its plain name (dropped objects only). */
  name?: string | null;
  /** The table it belongs to or is (an index's, a column's, a constraint's...). */
  table?: { schema: string; name: string } | null;
  /** pg_class.relkind of a relation (`r` table, `p` partitioned table, `i` index...). */
  kind?: string | null;
}

/** The content of a DDL capture message (JSON), written by the capture function. */
export interface DdlMessage {
  /** The command tag (`ALTER TABLE`, `CREATE INDEX`...). */
  tag: string;
  /**
   * The client's whole query text (it may hold several statements). Sent once per transaction:
   * later commands of the same query text in that transaction carry only `queryRef`, so a long
   * script of many DDL statements does not write its whole text into the WAL once per statement.
   * (Captures installed before this existed always send it.)
   */
  query?: string;
  /** The query text's md5, naming it for the transaction's later commands. */
  queryRef?: string;
  /** This is the n-th command with this tag and query text in its transaction (1-based). */
  ordinal: number;
  searchPath: string;
  objects: DdlObject[];
  dropped: DdlObject[];
  /** Tables this command added to the publication (created, or given a key). */
  published: string[];
  /** The capture function failed (its message): the stream stops naming the statement. */
  error?: string;
}

/** One DDL statement as the stream handled it (statements are cut to keep history small). */
export interface DdlRecord {
  lsn: string;
  tag: string;
  /** The statement as applied on the target (after renames), or as found on the source when skipped. */
  statement: string;
  action: 'applied' | 'skipped';
  /** Why it was skipped (an excluded object, a temporary object...). */
  reason?: string;
  /** Rows copied into a table created with data (CREATE TABLE AS). */
  rowsCopied?: number;
}

/** A statement as stored in history and shown: at most this many characters. */
export const DDL_STATEMENT_CHARS = 300;

/** At most this many statements are kept in the stream's progress (the count is exact). */
export const DDL_RECORDS_KEPT = 200;

export function shortStatement(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > DDL_STATEMENT_CHARS ? `${flat.slice(0, DDL_STATEMENT_CHARS - 1)}…` : flat;
}

/** The DDL part of the stream's progress. */
export interface DdlProgress {
  applied: number;
  skipped: number;
  last?: DdlRecord;
  /** The latest statements (at most DDL_RECORDS_KEPT). */
  records: DdlRecord[];
}

export function addDdlRecords(progress: DdlProgress | undefined, records: DdlRecord[]): DdlProgress {
  const p: DdlProgress = progress ?? { applied: 0, skipped: 0, records: [] };
  for (const r of records) {
    if (r.action === 'applied') p.applied += 1;
    else p.skipped += 1;
    p.last = r;
  }
  p.records = [...p.records, ...records].slice(-DDL_RECORDS_KEPT);
  return p;
}
