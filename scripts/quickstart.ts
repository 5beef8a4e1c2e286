/**
 * `npm run quickstart`: a local Temporal dev server (Web UI on :8233, state in
 * .pgferry/temporal.db), a worker, a demo source database and an empty target, then a
 * migration with live progress. Ctrl-C stops everything it started.
 *
 *   --exit        stop everything once the migration ends (used by the tests)
 *   --small       a few MB of demo data instead of ~180 MB
 * QUICKSTART_TEMPORAL_PORT / QUICKSTART_UI_PORT move the server off 7233 / 8233.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startPostgres, type PgCluster } from '../launch/postgres';
import { startTemporalServer, type TemporalServer } from '../launch/temporal';
import { startWorkerProcess, type WorkerProcess } from '../launch/worker';

const REPO = resolve(__dirname, '..', '..');
const STATE_DIR = join(REPO, '.pgferry');
const TASK_QUEUE = 'pgferry-quickstart';
const TEMPORAL_PORT = Number(process.env.QUICKSTART_TEMPORAL_PORT ?? 7233);
const UI_PORT = Number(process.env.QUICKSTART_UI_PORT ?? 8233);

async function main(): Promise<number> {
  const args = new Set(process.argv.slice(2));
  mkdirSync(STATE_DIR, { recursive: true });
  const started: Array<{ stop(): Promise<void> }> = [];
  const stopAll = async () => {
    for (const thing of started.reverse()) await thing.stop().catch(() => undefined);
  };
  process.once('SIGINT', () => {
    console.log('\nstopping the worker, Temporal and the demo databases...');
    void stopAll().then(() => process.exit(130));
  });

  try {
    console.log(`starting Temporal (Web UI http://localhost:${UI_PORT})...`);
    const temporal: TemporalServer = await startTemporalServer({ dbFile: join(STATE_DIR, 'temporal.db'), uiPort: UI_PORT, port: TEMPORAL_PORT });
    started.push(temporal);

    console.log('starting a source and a target PostgreSQL...');
    const source: PgCluster = await startPostgres({ name: 'quickstart-source', logical: true });
    started.push(source);
    const target: PgCluster = await startPostgres({ name: 'quickstart-target' });
    started.push(target);

    const worker: WorkerProcess = await startWorkerProcess({ temporalAddress: temporal.address, taskQueue: TASK_QUEUE });
    started.push(worker);

    console.log(`loading the demo shop database${args.has('--small') ? ' (small)' : ''}...`);
    await source.createDatabase('shop');
    await target.createDatabase('shop');
    await source.psqlFile(join(REPO, 'scripts', 'demo-data.sql'), 'shop', { scale: args.has('--small') ? '0.02' : '0.5' });

    const specFile = join(STATE_DIR, 'quickstart-spec.yaml');
    writeFileSync(
      specFile,
      `# written by npm run quickstart\nsource: ${source.url('shop')}\ntarget: ${target.url('shop')}\nparallelism:\n  tables: 4\nvalidation: checksum\n`,
    );
    const workflowId = `quickstart-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`;
    console.log(`spec: ${specFile}\n`);
    const code = await runCli(['start', specFile, '--id', workflowId, '--wait'], temporal.address);
    console.log(`\nWeb UI: http://localhost:${UI_PORT}/namespaces/default/workflows/${workflowId}`);
    console.log(`source: psql ${source.url('shop')}\ntarget: psql ${target.url('shop')}`);
    if (args.has('--exit')) {
      await stopAll();
      return code;
    }
    console.log('\nEverything keeps running so you can look around. Press Ctrl-C to stop.');
    await new Promise(() => undefined);
    return code;
  } catch (err) {
    console.error(`quickstart failed: ${err instanceof Error ? err.message : String(err)}`);
    await stopAll();
    return 1;
  }
}

function runCli(args: string[], temporalAddress: string): Promise<number> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(REPO, 'dist', 'client', 'cli.js'), ...args], {
      stdio: 'inherit',
      env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress, PGFERRY_TASK_QUEUE: TASK_QUEUE, PGFERRY_UI_URL: `http://localhost:${UI_PORT}` },
    });
    child.on('close', (code) => done(code ?? 1));
  });
}

void main().then((code) => process.exit(code));
