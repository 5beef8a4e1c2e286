/** The worker's metrics address, the Web UI's address, and how pgferry's metrics count. */
import { describe, expect, it } from 'vitest';
import type { MetricCounter, MetricGauge, MetricMeter, MetricTags } from '@temporalio/common';
import { metricsBindAddress } from '../../worker/metrics';
import { webUiBase, workflowPageUrl } from '../../client/web-ui';
import { CopyMetrics, migrationOf, StreamMetrics } from '../../activities/metrics';

/** Records what would be exported: counters summed, gauges last value. */
function recordingMeter() {
  const values = new Map<string, number>();
  const meter = {
    createCounter: (name: string): MetricCounter => ({ name, add: (v: number) => values.set(name, (values.get(name) ?? 0) + v) }) as unknown as MetricCounter,
    createGauge: (name: string): MetricGauge => ({ name, set: (v: number) => values.set(name, v) }) as unknown as MetricGauge,
    withTags: (_tags: MetricTags) => meter,
  } as unknown as MetricMeter;
  return { meter, values };
}

describe('console settings', () => {
  it('reads a metrics address as a port or host:port and names a bad one', () => {
    expect(metricsBindAddress(undefined)).toBeUndefined();
    expect(metricsBindAddress('')).toBeUndefined();
    expect(metricsBindAddress('9464')).toBe('0.0.0.0:9464');
    expect(metricsBindAddress(':9464')).toBe('0.0.0.0:9464');
    expect(metricsBindAddress('127.0.0.1:9464')).toBe('127.0.0.1:9464');
    expect(metricsBindAddress('[::1]:9464')).toBe('[::1]:9464');
    expect(() => metricsBindAddress('http://x:1')).toThrow(/PGFERRY_METRICS_ADDRESS: "http:\/\/x:1" is not a port or host:port/);
    expect(() => metricsBindAddress('70000', '--metrics')).toThrow(/^--metrics: "70000"/);
  });

  it('links to the Web UI at PGFERRY_UI_URL, default the dev server, and names a bad one', () => {
    expect(webUiBase({})).toBe('http://localhost:8233');
    expect(webUiBase({ PGFERRY_UI_URL: 'https://temporal.example.com/ui/' })).toBe('https://temporal.example.com/ui');
    expect(workflowPageUrl('https://t.example', 'prod ns', 'pgferry-a/db-b')).toBe('https://t.example/namespaces/prod%20ns/workflows/pgferry-a%2Fdb-b');
    expect(() => webUiBase({ PGFERRY_UI_URL: 'temporal:8233' })).toThrow(/PGFERRY_UI_URL: "temporal:8233" is not an http\(s\) URL/);
    expect(() => webUiBase({ PGFERRY_UI_URL: 'not a url' })).toThrow(/PGFERRY_UI_URL: "not a url" is not a URL/);
  });

  it('labels metrics with the migration, not its copy or stream child', () => {
    expect(migrationOf('pgferry-shop-1/copy-2')).toBe('pgferry-shop-1');
    expect(migrationOf('pgferry-shop-1/stream')).toBe('pgferry-shop-1');
    expect(migrationOf('multi/db-hr/copy-1')).toBe('multi/db-hr');
    expect(migrationOf('pgferry-shop-1')).toBe('pgferry-shop-1');
  });

  it('counts copied rows and bytes once across tables, however often it is fed', () => {
    const { meter, values } = recordingMeter();
    const m = new CopyMetrics(meter);
    m.observe(10, 1000);
    m.observe(10, 1000);
    m.observe(25, 2500);
    m.nextTable();
    m.observe(5, 100);
    expect(values.get('pgferry_copy_rows')).toBe(30);
    expect(values.get('pgferry_copy_bytes')).toBe(2600);
  });

  it('counts applied changes from the stream heartbeat and shows its lag', () => {
    const { meter, values } = recordingMeter();
    const m = new StreamMetrics(meter);
    m.observeHeartbeat({ totalChanges: 40, lagBytes: 512, lagSeconds: 1.25 });
    m.observeHeartbeat({ totalChanges: 100, lagBytes: 0, lagSeconds: 0 });
    expect(values.get('pgferry_stream_changes')).toBe(100);
    expect(values.get('pgferry_stream_lag_bytes')).toBe(0);
  });
});
