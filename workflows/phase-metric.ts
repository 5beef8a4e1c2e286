/**
 * The migration's phase as a Prometheus gauge, `pgferry_phase{migration, phase}`: 1 for the
 * phase it is in, 0 for the one it left. Emitted through the SDK's workflow metric meter,
 * which never writes to history (replay-safe) and drops what a replay would emit; so a worker
 * that picks the workflow up after a restart shows the phase from the next change it sees
 * while running, not from its replay.
 */
import { metricMeter, workflowInfo } from '@temporalio/workflow';
import type { Phase } from '../common/plan';

export class PhaseMetric {
  private shown?: Phase;

  show(phase: Phase): void {
    if (phase === this.shown || workflowInfo().unsafe.isReplaying) return;
    const gauge = metricMeter.createGauge('pgferry_phase', 'int', '', "1 for the migration's current phase (precheck, data, streaming, done...), 0 for the one it left");
    const migration = workflowInfo().workflowId;
    if (this.shown) gauge.set(0, { migration, phase: this.shown });
    gauge.set(1, { migration, phase });
    this.shown = phase;
  }
}
