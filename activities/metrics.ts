/**
 * pgferry's own Prometheus metrics, through the Temporal SDK's metric meter (the worker's
 * Runtime exports them beside the SDK's, worker/metrics.ts). Without a metrics address the
 * meter is a no-op. Labelled by migration (the workflow id without its child's suffix) and,
 * by the SDK, namespace, task queue and activity type; never by table (10,000 tables would be
 * 10,000 series).
 */
import { Context } from '@temporalio/activity';
import type { MetricCounter, MetricGauge, MetricMeter } from '@temporalio/common';

/** `<id>/copy-2`, `<id>/stream`, `<id>/db-hr/copy-1` → the migration's id as the CLI knows it. */
export function migrationOf(workflowId: string): string {
  return workflowId.replace(/\/(copy-\d+|stream)$/, '');
}

function activityMeter(): MetricMeter {
  const ctx = Context.current();
  const workflowId = ctx.info.workflowExecution?.workflowId ?? 'unknown';
  return ctx.metricMeter.withTags({ migration: migrationOf(workflowId) });
}

/**
 * Rows and bytes of COPY data as they stream through (an attempt that fails and is retried
 * counts its bytes twice, as it reads them twice). Fed cumulative per-table figures.
 */
export class CopyMetrics {
  private readonly rows: MetricCounter;
  private readonly bytes: MetricCounter;
  private seenRows = 0;
  private seenBytes = 0;

  constructor(meter: MetricMeter = activityMeter()) {
    this.rows = meter.createCounter('pgferry_copy_rows', 'rows', 'Rows copied from source to target (COPY data streamed)');
    this.bytes = meter.createCounter('pgferry_copy_bytes', 'bytes', 'Bytes of COPY data copied from source to target');
  }

  /** A new table (or chunk) starts from zero. */
  nextTable(): void {
    this.seenRows = 0;
    this.seenBytes = 0;
  }

  /** The current table's rows and bytes so far. */
  observe(rows: number, bytes: number): void {
    if (rows > this.seenRows) this.rows.add(rows - this.seenRows);
    if (bytes > this.seenBytes) this.bytes.add(bytes - this.seenBytes);
    this.seenRows = Math.max(rows, this.seenRows);
    this.seenBytes = Math.max(bytes, this.seenBytes);
  }
}

/** What the change stream reports in its heartbeat (activities/stream/stream-meter.ts). */
export interface StreamFigures {
  totalChanges: number;
  lagBytes: number;
  lagSeconds: number;
}

/** Changes applied, and lag in seconds and bytes as the stream measures them. */
export class StreamMetrics {
  private readonly changes: MetricCounter;
  private readonly lagSeconds: MetricGauge;
  private readonly lagBytes: MetricGauge;
  private seenChanges = 0;

  constructor(meter: MetricMeter = activityMeter()) {
    this.changes = meter.createCounter('pgferry_stream_changes', 'changes', 'Row changes applied to the target by the change stream');
    this.lagSeconds = meter.createGauge('pgferry_stream_lag_seconds', 'float', 's', 'Seconds the target is behind the source, as the stream measures it');
    this.lagBytes = meter.createGauge('pgferry_stream_lag_bytes', 'int', 'bytes', "Bytes of source WAL not yet confirmed applied (source's end of WAL minus the confirmed position)");
  }

  /** From the stream's heartbeat details, the figures the Web UI and `status` show. */
  observeHeartbeat(details: Record<string, unknown>): void {
    this.observe({ totalChanges: Number(details.totalChanges ?? 0), lagBytes: Number(details.lagBytes ?? 0), lagSeconds: Number(details.lagSeconds ?? 0) });
  }

  observe(figures: StreamFigures): void {
    if (figures.totalChanges > this.seenChanges) this.changes.add(figures.totalChanges - this.seenChanges);
    this.seenChanges = Math.max(this.seenChanges, figures.totalChanges);
    this.lagSeconds.set(figures.lagSeconds);
    this.lagBytes.set(figures.lagBytes);
  }
}
