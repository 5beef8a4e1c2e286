/**
 * `pgferry plan`: runs the plan on a worker and prints it: the schemas and objects a migration
 * would create, each table's size, row estimate and split, the totals and the estimated copy
 * time with where its rate came from; or all of it as JSON.
 */
import type { Client } from '@temporalio/client';
import { formatBytes } from '../common/format';
import type { MigrationPlanPreview, PlannedTable } from '../common/migration-plan';
import type { MigrationSpec } from '../common/spec';
import { migrationSummary } from './migrations';
import type { TemporalSettings } from './temporal';

export async function runPlan(client: Client, settings: TemporalSettings, spec: MigrationSpec, mbPerSecond?: number): Promise<MigrationPlanPreview> {
  const { source, target, types, objects, conflicts, copy, parallelism, throttle, retry } = spec;
  return client.workflow.execute('planWorkflow', {
    taskQueue: settings.taskQueue,
    workflowId: `pgferry-plan-${spec.source.database}-${Date.now()}`,
    args: [{ source, target, types, objects, conflicts, copy, parallelism, throttle, retry, ...(mbPerSecond !== undefined ? { mbPerSecond } : {}) }],
    staticSummary: `plan ${migrationSummary(spec)}`.slice(0, 200),
  });
}

/** `1 h 02 min`, `3 min 05 s`, `12.3 s` */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

const name = (t: { schema: string; name: string }) => `${t.schema}.${t.name}`;

function tableLine(t: PlannedTable, width: number): string {
  const renamed = name(t.target) !== name(t) ? ` → ${name(t.target)}` : '';
  const rows = t.rowEstimate === undefined ? '?' : `~${t.rowEstimate.toLocaleString('en-US')}`;
  const split = t.chunks ? `split: ${t.chunks} chunks by ${t.splitBy === 'key' ? `key ${t.splitColumn}` : 'blocks'}` : '';
  const extra = [t.preexisting ? 'exists in target (rows added)' : '', t.where ? `where ${t.where}` : '', t.columns ? `${t.columns.length} columns` : ''].filter(Boolean);
  return `  ${(name(t) + renamed).padEnd(width)}  ${formatBytes(t.bytes).padStart(10)}  ${rows.padStart(14)} rows  ${[split, ...extra].filter(Boolean).join('; ')}`.trimEnd();
}

export function renderPlan(plan: MigrationPlanPreview): string {
  const lines: string[] = [`Types: ${plan.types.join(', ')}`];
  if (plan.schemas.length) {
    lines.push('', 'Schemas and objects created (target names):');
    for (const s of plan.schemas) {
      const what = [`${s.tables} table(s)`, ...Object.entries(s.counts).map(([kind, n]) => `${n} ${kind}`)].join(', ');
      const from = s.target !== s.source ? ` (from ${s.source})` : '';
      const how = s.whole ? 'whole schema' : 'some tables';
      lines.push(`  ${s.target}${from}: ${what} — ${how}${s.exists ? ', schema exists in target' : ''}`);
    }
  } else if (!plan.types.includes('schema')) {
    lines.push('', 'No object is created (types without schema): rows go into tables the target has.');
  }
  const width = Math.min(60, Math.max(10, ...plan.tables.map((t) => (name(t) + (name(t.target) !== name(t) ? ` → ${name(t.target)}` : '')).length)));
  lines.push('', `Tables (${plan.totals.tables}, biggest first):`, `  ${'TABLE'.padEnd(width)}  ${'SIZE'.padStart(10)}  ${'ESTIMATE'.padStart(14)}`);
  for (const t of plan.tables) lines.push(tableLine(t, width));
  if (plan.omittedTables) lines.push(`  ... and ${plan.omittedTables} smaller table(s) (the plan lists the biggest ${plan.tables.length})`);
  const { totals } = plan;
  const splitting = plan.splitLargerThan ? `tables of ${formatBytes(plan.splitLargerThan)} or more are split` : 'splitting is off';
  lines.push(
    '',
    `Total: ${totals.tables} table(s), ${formatBytes(totals.bytes)}, ~${totals.rows.toLocaleString('en-US')} rows; ${totals.splitTables} split table(s) in ${totals.chunks} chunks (${splitting}); ${totals.copyUnits} copy unit(s) at most.`,
  );
  if (plan.largeObjects) lines.push(`Large objects: ${plan.largeObjects.count}, ${formatBytes(plan.largeObjects.bytes)}.`);
  if (plan.estimate) {
    const e = plan.estimate;
    lines.push(`Estimated copy time: ${formatDuration(e.seconds)} at ${e.mbPerSecond} MiB/s (${e.source}: ${e.basis}). Index builds, validation and any change stream come on top.`);
  }
  for (const note of plan.notes) lines.push(`Note: ${note}`);
  return lines.join('\n');
}
