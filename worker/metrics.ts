/**
 * The worker's Prometheus endpoint: `PGFERRY_METRICS_ADDRESS` (or `pgferry worker --metrics`)
 * makes the Temporal SDK's Runtime serve `/metrics` there, with the SDK's own metrics (task
 * latencies, slots, polls...) and pgferry's (activities/metrics.ts, workflows/phase-metric.ts),
 * which go through the SDK's metric meter. Off by default: several workers on one host would
 * fight over one port.
 */
import { Runtime } from '@temporalio/worker';

export class MetricsSettingError extends Error {}

/** `9464`, `:9464` or `host:port` (IPv6 in brackets) → the bind address; undefined when unset. */
export function metricsBindAddress(value: string | undefined, source = 'PGFERRY_METRICS_ADDRESS'): string | undefined {
  const raw = value?.trim();
  if (!raw) return undefined;
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+)?:)?(\d{1,5})$/.exec(raw);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new MetricsSettingError(`${source}: ${JSON.stringify(raw)} is not a port or host:port to serve Prometheus metrics on (e.g. 9464 or 0.0.0.0:9464)`);
  }
  return `${m[1] ?? '0.0.0.0'}:${port}`;
}

/** Must run before the worker's first connection: the Runtime is created once per process. */
export function installMetrics(bindAddress: string): void {
  Runtime.install({
    telemetryOptions: {
      metrics: {
        // Prometheus conventions: counters end in _total, durations in seconds.
        prometheus: { bindAddress, countersTotalSuffix: true, useSecondsForDurations: true },
      },
    },
  });
}
