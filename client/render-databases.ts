/** Text rendering of a migration of several databases: one block per database. */
import type { MultiCutoverResult, MultiDatabaseReport } from '../common/databases';
import { formatBytes } from '../common/format';
import type { AnyProgress, AnyReport, DatabasesProgress } from './migrations';
import { renderCutover, renderProgress, renderReport } from './render';

export function isDatabases(p: AnyProgress | AnyReport): p is DatabasesProgress | MultiDatabaseReport {
  return (p as { kind?: string }).kind === 'databases';
}

export function renderAnyProgress(p: AnyProgress, maxTables?: number): string {
  if (!isDatabases(p)) return renderProgress(p, maxTables);
  const lines = [`${p.databases.length} databases: ${p.databases.filter((d) => d.state === 'done').length} done, ${p.databases.filter((d) => d.state === 'streaming').length} streaming`];
  for (const d of p.databases) {
    lines.push(`● ${d.database} → ${d.target}  ${d.state}${d.error ? `: ${d.error}` : ''}`);
    const child = (p as DatabasesProgress).progress[d.database];
    if (child && d.state !== 'done') lines.push(indent(renderProgress(child, 4)));
  }
  return lines.join('\n');
}

export function renderAnyReport(r: AnyReport): string {
  if (!isDatabases(r)) return renderReport(r);
  const lines = [`Migrated ${r.databases.length} databases: ${r.totalRows} rows, ${formatBytes(r.totalBytes)} in ${(r.totalMs / 1000).toFixed(1)} s`];
  for (const d of r.databases) {
    lines.push('', `● ${d.database} → ${d.target}: ${d.state}${d.error ? `: ${d.error}` : ''}`);
    if (d.report) lines.push(indent(renderReport(d.report, 5)));
  }
  return lines.join('\n');
}

export function renderMultiCutover(results: MultiCutoverResult, clientMs: number): string {
  const slowest = Math.max(0, ...Object.values(results).map((r) => r.downtimeMs));
  const lines = [`Cut over ${Object.keys(results).length} database(s) together: downtime ${(slowest / 1000).toFixed(2)} s (the slowest; ${(clientMs / 1000).toFixed(2)} s as this command saw it).`];
  for (const [database, r] of Object.entries(results)) lines.push('', `● ${database}`, indent(renderCutover(r)));
  return lines.join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}
