/** Builds the activities' dependencies once and runs a Temporal worker until it is told to stop. */
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { WorkerConfig } from './config';

export async function runWorker(config: WorkerConfig): Promise<void> {
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.namespace,
      taskQueue: config.taskQueue,
      workflowsPath: require.resolve('../workflows'),
      activities: createActivities({ env: process.env, pgBinDir: config.pgBinDir, tmpDir: config.tmpDir }),
      // Copies are I/O bound; the parallelism limit lives in the workflow, this is a ceiling.
      maxConcurrentActivityTaskExecutions: 64,
      // Give running copies a moment to roll back cleanly before the process exits.
      shutdownGraceTime: '10 seconds',
      // Cancellation reaches an activity only in a heartbeat response: send heartbeats often
      // enough that a cancel releases the source snapshot within seconds, not half a minute.
      maxHeartbeatThrottleInterval: '2 seconds',
    });
    // Tests and scripts wait for this exact line.
    console.log(`pgferry worker ready (task queue ${config.taskQueue}, Temporal ${config.temporalAddress})`);
    await worker.run();
  } finally {
    await connection.close();
  }
}
