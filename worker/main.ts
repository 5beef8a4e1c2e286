#!/usr/bin/env node
/** Entry point: `node dist/worker/main.js` (or `pgferry worker`). */
import { workerConfig } from './config';
import { runWorker } from './run-worker';

Promise.resolve()
  .then(() => runWorker(workerConfig()))
  .catch((err) => {
    console.error(`pgferry worker stopped: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
