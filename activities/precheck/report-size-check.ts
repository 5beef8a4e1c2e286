/**
 * The migration's report lists every table, and it travels as the workflow's result: a Temporal
 * payload, refused over 2 MB. A migration of more tables than its report can list would copy
 * everything and then fail to complete (its last workflow task retried forever), so the
 * precheck refuses it up front and says how to split it. Measured: ~86 bytes of report per
 * table with short names and big figures, so the ceiling is about 14,000-19,000 tables, fewer
 * with long names or a long worker label.
 */
import type { Client } from 'pg';
import type { CheckItem } from '../../common/precheck';
import { USER_TABLES_SQL } from '../copy/list-tables';
import { fail, pass } from './items';

/** Temporal's payload limit (2 MiB), less room for the report's other parts (warnings, phases). */
export const REPORT_BUDGET_BYTES = 1_800_000;
/**
 * A table's report entry without its names and worker: keys, quotes and commas (~60 bytes) and its
 * figures, up to ~27 digits in all (hundreds of millions of rows, hundreds of GB, hours of copying).
 */
const ENTRY_BYTES = 90;

export interface TableNames {
  /** How many tables the migration copies. */
  count: number;
  /** Characters of their schema and table names, summed. */
  nameChars: number;
}

/** The report's size for these tables, estimated (plain ASCII names; big tables' figures). */
export function estimatedReportBytes(tables: TableNames, workerLabel: string): number {
  return tables.count * (ENTRY_BYTES + workerLabel.length) + tables.nameChars;
}

export function reportSizeItem(tables: TableNames, workerLabel: string): CheckItem {
  const bytes = estimatedReportBytes(tables, workerLabel);
  const mb = (n: number) => (n / 1e6).toFixed(1);
  if (bytes <= REPORT_BUDGET_BYTES) return pass('report-size', `The report of ${tables.count} tables fits in a Temporal payload (about ${mb(bytes)} of ${mb(REPORT_BUDGET_BYTES)} MB).`);
  const fits = Math.floor((tables.count * REPORT_BUDGET_BYTES) / bytes);
  return fail(
    'report-size',
    `${tables.count} tables are more than one migration can report: its report (about ${mb(bytes)} MB, one entry per table) would exceed Temporal's 2 MB payload limit, and the migration would fail to complete after copying everything.`,
    `Split the tables over several migrations of at most about ${fits} tables each (objects.include / objects.exclude by schema or name pattern).`,
  );
}

/** The tables the migration copies: the selection's, or every table listTables reports (USER_TABLES_SQL). */
export async function checkReportSize(src: Client, workerLabel: string, selected?: { schema: string; name: string }[]): Promise<CheckItem> {
  if (selected) return reportSizeItem({ count: selected.length, nameChars: selected.reduce((n, t) => n + t.schema.length + t.name.length, 0) }, workerLabel);
  const { rows } = await src.query<{ n: string; chars: string | null }>(`SELECT count(*) AS n, sum(length(t.schema) + length(t.name)) AS chars FROM (${USER_TABLES_SQL}) t`);
  return reportSizeItem({ count: Number(rows[0].n), nameChars: Number(rows[0].chars ?? 0) }, workerLabel);
}
