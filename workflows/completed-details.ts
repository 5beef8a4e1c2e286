/**
 * The Web UI's details of a completed migration: how long it took, the cutover's downtime,
 * validation table by table and every warning in full, so the page answers "is it done and
 * right?" without opening the result JSON. Markdown, within the UI's 20 KB.
 */
import { verificationMarkdown } from '../common/verification';
import { displayName, tableKey, tableMbPerSecond, type MigrationReport, type TableCopyResult, type TableValidation } from '../common/plan';
import { formatBytes } from '../common/format';
import { formatDuration } from '../common/rates';

const TABLE_ROWS = 100;
const WARNING_CHARS = 1_000;

export function completedDetails(r: MigrationReport): string {
  const lines = [
    `**Done:** ${r.source} → ${r.target} (${r.types.join(', ')}) in ${formatDuration(r.totalMs / 1000)} · ${r.tables.length} tables, ${r.totalRows} rows, ${formatBytes(r.totalBytes)}`,
    '',
    `**Phases:** ${r.phases.map((p) => `${p.phase} ${formatDuration(p.ms / 1000)}`).join(' · ')}`,
    '',
  ];
  const c = r.cutover;
  if (c) {
    lines.push(
      `**Cutover:** downtime **${(c.downtimeMs / 1000).toFixed(2)} s** at source LSN ${c.lsn}${c.sourceLocked ? ' (source made read-only)' : ''} · ${c.changesApplied} changes in ${c.transactionsApplied} transactions streamed · ${c.sequences} sequences set`,
      '',
    );
  }
  const v = c?.validation ?? r.validation;
  const mismatches = new Map<string, TableValidation>(v.mismatches.map((m) => [tableKey(m), m]));
  if (r.verification) lines.push(...verificationMarkdown(r.verification), '');
  lines.push(`**Validation** (${v.mode}${c ? ', source against target at cutover' : ''}): ${v.tablesChecked} tables checked, ${v.mismatches.length} differ`, '');
  if (r.tables.length) {
    lines.push('| table | rows | size | MB/s | validation |', '|---|---:|---:|---:|---|');
    for (const t of worstFirst(r.tables, mismatches, TABLE_ROWS)) {
      const cell = validationCell(mismatches.get(tableKey(t)), t.rowsKept !== undefined, v.tablesChecked > 0);
      lines.push(`| ${displayName(t).replace(/\|/g, '/')} | ${t.rows} | ${formatBytes(t.bytes)} | ${tableMbPerSecond(t)} | ${cell} |`);
    }
    if (r.tables.length > TABLE_ROWS) lines.push('', `…and ${r.tables.length - TABLE_ROWS} more tables (all in the result).`);
    lines.push('');
  }
  lines.push(r.warnings.length ? `**Warnings (${r.warnings.length}):**` : '**Warnings:** none');
  for (const w of r.warnings) lines.push(`- ${w.slice(0, WARNING_CHARS).replace(/\n/g, ' ')}`);
  return lines.join('\n');
}

/**
 * The tables the page lists: those that differ, then the biggest. A table's key is made only
 * when some differ: over 10,000 tables a key per comparison of a sort was megabytes of garbage
 * in the workflow's small heap.
 */
function worstFirst(tables: TableCopyResult[], mismatches: Map<string, TableValidation>, count: number): TableCopyResult[] {
  const differ = new Set(mismatches.size ? tables.filter((t) => mismatches.has(tableKey(t))) : []);
  const biggest = [...tables].sort((a, b) => b.bytes - a.bytes);
  return [...differ, ...biggest.filter((t) => !differ.has(t))].slice(0, count);
}

function validationCell(m: TableValidation | undefined, keptExisting: boolean, validated: boolean): string {
  if (m) return `**differs**: expected ${m.expectedRows} rows, found ${m.actualRows}${m.expectedChecksum && m.expectedChecksum !== m.actualChecksum ? ', checksum differs' : ''}`;
  if (keptExisting) return 'not validated (existed in the target before)';
  return validated ? 'equal' : 'not validated';
}
