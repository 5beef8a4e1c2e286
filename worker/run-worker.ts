/** Builds the activities' dependencies once and runs a Temporal worker until it is told to stop. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { TemporalSettingsError } from '../client/temporal-connection';
import { namespaceNotFound, unreachableError } from '../client/temporal-diagnosis';
import type { WorkerConfig } from './config';
import { installMetrics } from './metrics';
import { boundWorkflowThreadHeap } from './memory';
import { heapTrimInterceptor } from './heap-trim';

export async function runWorker(config: WorkerConfig): Promise<void> {
  for (const warning of config.temporal.warnings) console.error(`pgferry worker: ${warning}`);
  if (config.metricsAddress) installMetrics(config.metricsAddress);
  boundWorkflowThreadHeap();
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect(config.temporal.options);
  } catch (err) {
    throw await unreachableError(config.temporal, err);
  }
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.taskQueue,
      ...workflowSource(),
      activities: createActivities({ env: process.env, pgBinDir: config.pgBinDir, tmpDir: config.tmpDir }),
      interceptors: { activity: [heapTrimInterceptor] },
      // Copies are I/O bound; the parallelism limit lives in the workflow, this is a ceiling.
      maxConcurrentActivityTaskExecutions: 64,
      // Give running copies a moment to roll back cleanly before the process exits.
      shutdownGraceTime: '10 seconds',
      // Cancellation reaches an activity only in a heartbeat response: send heartbeats as often
      // as an activity beats, up to 4 a second, so that a cancel releases the source snapshot
      // within a quarter of a second (the migration's end waits for that release). Activities
      // beat once a second; the snapshot holder, whose release ends every migration, 4 times.
      maxHeartbeatThrottleInterval: '250 milliseconds',
    }).catch((err: Error) => {
      // The core's "Namespace x was not found or otherwise could not be described: Status { code: NotFound ...".
      if (/^Namespace .*code: NotFound/s.test(err.message)) throw new TemporalSettingsError(namespaceNotFound(config.temporal));
      throw err;
    });
    // Tests and scripts wait for this exact line.
    const metrics = config.metricsAddress ? `, metrics http://${config.metricsAddress}/metrics` : '';
    console.log(`pgferry worker ready (task queue ${config.taskQueue}, Temporal ${config.temporal.description}${metrics})`);
    await worker.run();
  } finally {
    await connection.close();
  }
}

/** The bundle made by `npm run build` (scripts/bundle-workflows.ts), else bundle at start-up. */
function workflowSource(): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  const bundle = join(__dirname, '..', 'workflow-bundle.js');
  if (existsSync(bundle)) return { workflowBundle: { codePath: bundle } };
  return { workflowsPath: require.resolve('../workflows') };
}
