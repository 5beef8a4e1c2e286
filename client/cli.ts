#!/usr/bin/env node
/**
 * The `pgferry` command: a thin shell over client/migrations.ts.
 * Exit codes: 0 success, 1 migration or precheck failed, 2 invalid input (spec, options, Temporal
 * settings that cannot work), 3 Temporal unreachable or refusing the connection.
 */
import { Command, Option } from 'commander';
import { NamespaceNotFoundError, type Client } from '@temporalio/client';
import { startAtSchema, type MigrationSpec } from '../common/spec';
import type { ControlView } from '../common/control';
import { InvalidControlRequest, pauseMigration, resumeMigration, throttleChangeFromOptions, throttleMigration } from './control';
import { loadSpec } from './spec-file';
import { connectClient, temporalSettings, type TemporalSettings } from './temporal';
import { TemporalSettingsError } from './temporal-connection';
import { namespaceNotFound, TemporalUnreachableError } from './temporal-diagnosis';
import { finishMigration, rollbackMigration, verifyMigration, cancelMigration, cutoverDatabases, cutoverMigration, isMultiDatabase, defaultWorkflowId, failureText, listMigrations, migrationStatus, runPrecheck, startMigration, type MigrationStatus } from './migrations';
import { renderControl, renderCutover } from './render';
import { renderFinish, renderRollback } from './render-way-back';
import { describeRound, parseSince } from '../common/verification';
import type { CutoverRequest } from '../common/plan';
import { renderAnyProgress, renderAnyReport, renderMultiCutover } from './render-databases';
import { precheckJson, renderPrecheck } from './precheck-output';
import { renderPlan, runPlan } from './plan-output';
import { webUiBase, WebUiSettingError, workflowPageUrl } from './web-ui';
import { askToGoAhead, gateDecision, isInteractive, precheckBeforeStart, withAcknowledged, type GateOptions } from './start-gate';

const EXIT = { ok: 0, failed: 1, badInput: 2, temporal: 3 } as const;

class ExitError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

function specOrExit(path: string): MigrationSpec {
  const result = loadSpec(path);
  if (result.ok) return result.spec;
  throw new ExitError(`invalid spec ${path}:\n${result.problems.map((p) => `  - ${p}`).join('\n')}`, EXIT.badInput);
}

/** Temporal's connection settings (variables, config profile); settings that cannot work are invalid input. */
function settingsOrExit(taskQueue?: string): TemporalSettings {
  let settings: TemporalSettings;
  try {
    settings = temporalSettings(process.env, taskQueue);
  } catch (err) {
    if (err instanceof TemporalSettingsError) throw new ExitError(err.message, EXIT.badInput);
    throw err;
  }
  for (const warning of settings.connection.warnings) console.error(`pgferry: ${warning}`);
  return settings;
}

async function clientOrExit(settings: TemporalSettings = settingsOrExit()): Promise<Client> {
  try {
    return await connectClient(settings);
  } catch (err) {
    throw new ExitError((err as Error).message, EXIT.temporal);
  }
}

/** `start --at` overrides the spec's startAt; checked like the spec. */
function withStartAt(spec: MigrationSpec, at?: string): MigrationSpec {
  if (at === undefined) return spec;
  const parsed = startAtSchema.safeParse(at);
  if (!parsed.success) throw new ExitError(`--at: ${parsed.error.issues[0].message}`, EXIT.badInput);
  return { ...spec, startAt: parsed.data };
}

/** pause, resume, throttle: an Update whose answer is the control state the migration took. */
async function controlCommand(id: string, verb: string, json: boolean, call: (client: Client) => Promise<ControlView>): Promise<void> {
  const client = await clientOrExit();
  let view: ControlView;
  try {
    view = await call(client);
  } catch (err) {
    if (err instanceof InvalidControlRequest) throw new ExitError(err.message, EXIT.badInput);
    if (err instanceof NamespaceNotFoundError) throw err;
    throw new ExitError(`${verb} ${id} failed: ${failureText(err)}`, EXIT.failed);
  }
  console.log(json ? JSON.stringify(view, null, 2) : `${id}: ${view.paused ? 'paused' : 'not paused'}\n${renderControl(view)}`);
}

const taskQueueOption = () => new Option('--task-queue <name>', 'Temporal task queue of the workers').env('PGFERRY_TASK_QUEUE').default('pgferry');

/**
 * Redraws progress until the migration closes (noticed at once, not at the next poll). Each
 * poll is a describe and a query that a worker answers, so it polls only as often as it draws:
 * every second on a terminal, every 5 s into a log, never for --json (printed at the end).
 */
async function follow(client: Client, workflowId: string, json = false): Promise<MigrationStatus> {
  const tty = process.stdout.isTTY && !json;
  let closed = false;
  const settled = client.workflow
    .getHandle(workflowId)
    .result()
    .then(
      () => (closed = true),
      () => (closed = true),
    );
  const pollMs = tty ? 1000 : 5000;
  let lastLines = 0;
  while (!closed && !json) {
    const status = await migrationStatus(client, workflowId);
    if (status.state !== 'running') break;
    if (status.progress) {
      const text = renderAnyProgress(status.progress);
      if (tty && lastLines) process.stdout.write(`\x1b[${lastLines}A\x1b[0J`);
      process.stdout.write(text + '\n');
      lastLines = tty ? text.split('\n').length : 0;
    }
    await Promise.race([settled, new Promise((r) => setTimeout(r, pollMs))]);
  }
  if (json) await settled;
  if (tty && lastLines) process.stdout.write(`\x1b[${lastLines}A\x1b[0J`);
  return migrationStatus(client, workflowId);
}

function printFinal(status: MigrationStatus, json: boolean): number {
  if (json) {
    console.log(JSON.stringify(status.state === 'completed' ? { state: status.state, report: status.report } : { state: status.state, error: 'error' in status ? status.error : undefined, progress: status.progress }, null, 2));
  } else if (status.state === 'completed') {
    console.log(renderAnyReport(status.report));
  } else if (status.state === 'running') {
    console.log(status.progress ? renderAnyProgress(status.progress, 1000) : 'running (no worker is answering queries right now)');
  } else {
    console.error(`migration ${status.state}: ${status.error}`);
  }
  return status.state === 'completed' || status.state === 'running' ? EXIT.ok : EXIT.failed;
}

export function buildProgram(): Command {
  const program = new Command('pgferry')
    .description('PostgreSQL-to-PostgreSQL migration as a durable Temporal workflow')
    .addHelpText(
      'after',
      '\nEnvironment: TEMPORAL_ADDRESS (default localhost:7233), TEMPORAL_NAMESPACE (default "default"), TEMPORAL_API_KEY, TEMPORAL_TLS*, or a profile of the Temporal config file (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE), as for Temporal\'s own tools; PGFERRY_TASK_QUEUE (default "pgferry").',
    )
    .showHelpAfterError();

  program
    .command('start')
    .description('validate a spec and start a migration')
    .argument('<spec>', 'migration spec file (YAML or JSON)')
    .option('--id <workflowId>', 'workflow id (default pgferry-<db>-<time>)')
    .option('--wait', 'follow progress until the migration ends; exit 0 on success')
    .option('--json', 'with --wait, print the final report as JSON')
    .option('--at <time>', "start at this ISO 8601 date-time with offset, e.g. 2026-03-01T02:00:00+01:00 (overrides the spec's startAt); the migration waits, cancellable, until then")
    .option('--yes', 'run the precheck first and go ahead past its warnings without asking (on a terminal, start asks)')
    .addOption(taskQueueOption())
    .action(async (specPath: string, opts: { id?: string; wait?: boolean; json?: boolean; at?: string; yes?: boolean; taskQueue: string }) => {
      let spec = withStartAt(specOrExit(specPath), opts.at);
      const settings = settingsOrExit(opts.taskQueue);
      const client = await clientOrExit(settings);
      spec = await passPrecheckGate(client, settings, spec, { yes: Boolean(opts.yes), interactive: isInteractive(Boolean(opts.json)) }, Boolean(opts.json));
      const id = await startMigration(client, settings, spec, opts.id ?? defaultWorkflowId(spec), (notice) => console.error(`note: ${notice}`));
      const scheduled = spec.startAt && Date.parse(spec.startAt) > Date.now() ? ` (scheduled to start at ${spec.startAt})` : '';
      if (!opts.json) console.log(`started migration ${id}${scheduled}\nWeb UI: ${webUiLink(settings, id)}`);
      if (!opts.wait) return;
      process.exitCode = printFinal(await follow(client, id, opts.json), Boolean(opts.json));
    });

  program
    .command('status')
    .description('show the phase, tables and progress of a migration (or its report when done)')
    .argument('<workflowId>')
    .option('--watch', 'keep refreshing until it ends')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { watch?: boolean; json?: boolean }) => {
      const client = await clientOrExit();
      const status = opts.watch ? await follow(client, id, opts.json) : await migrationStatus(client, id);
      process.exitCode = printFinal(status, Boolean(opts.json));
    });

  program
    .command('list')
    .description('list migrations, newest first')
    .option('--limit <n>', 'at most this many', '50')
    .action(async (opts: { limit: string }) => {
      const client = await clientOrExit();
      for (const m of await listMigrations(client, Number(opts.limit))) {
        const phase = m.phase ? `\tphase ${m.phase}${m.lagSeconds !== undefined ? `, lag ${m.lagSeconds} s` : ''}` : '';
        console.log(`${m.workflowId}\t${m.status}\t${m.startTime.toISOString()}${m.closeTime ? `\t${m.closeTime.toISOString()}` : ''}${phase}`);
      }
    });

  program
    .command('cutover')
    .description('switch an incremental migration over: apply every change up to now, stop the stream, set sequences, validate, drop the slot. Stop application writes first (or use --lock-source).')
    .argument('<workflowId>')
    .option('--lock-source', 'make the source database read-only for new transactions and wait for running ones first')
    .option('--database <name...>', 'several databases: cut over only these (default: all of them together)')
    .option('--timeout <seconds>', 'give up when the stream has not caught up with the cutover point in this time: the source is writable again, the stream goes on, exit code 1')
    .option('--require-verified [since]', 'refuse (nothing changes) unless the last verification round (pgferry verify) left every table equal and started at or after <since>: an ISO 8601 date-time or a duration back from now (30m, 2h, 1d); without it, at any time')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { lockSource?: boolean; json?: boolean; database?: string[]; timeout?: string; requireVerified?: string | boolean }) => {
      const timeoutSeconds = opts.timeout === undefined ? undefined : Number(opts.timeout);
      if (timeoutSeconds !== undefined && !(timeoutSeconds > 0)) throw new ExitError(`--timeout ${opts.timeout}: give a number of seconds greater than 0`, EXIT.badInput);
      let requireVerified: CutoverRequest['requireVerified'];
      if (opts.requireVerified !== undefined) {
        try {
          requireVerified = typeof opts.requireVerified === 'string' ? { sinceMs: parseSince(opts.requireVerified, Date.now()), since: opts.requireVerified } : {};
        } catch (err) {
          throw new ExitError((err as Error).message, EXIT.badInput);
        }
      }
      const client = await clientOrExit();
      const started = Date.now();
      if (await isMultiDatabase(client, id).catch(() => false)) {
        if (timeoutSeconds !== undefined) throw new ExitError(`${id} migrates several databases: --timeout applies to one database's migration (cut over ${id}/db-<name> with it)`, EXIT.badInput);
        if (requireVerified) throw new ExitError(`${id} migrates several databases: --require-verified applies to a migration of one database (verify and cut over each)`, EXIT.badInput);
        try {
          const results = await cutoverDatabases(client, id, { lockSource: Boolean(opts.lockSource), databases: opts.database });
          console.log(opts.json ? JSON.stringify(results, null, 2) : renderMultiCutover(results, Date.now() - started));
          process.exitCode = Object.values(results).some((r) => r.validation.mismatches.length) ? EXIT.failed : EXIT.ok;
          return;
        } catch (err) {
          if (err instanceof NamespaceNotFoundError) throw err;
          throw new ExitError(`cutover of ${id} failed: ${failureText(err)}`, EXIT.failed);
        }
      }
      if (opts.database) throw new ExitError(`${id} migrates one database: --database applies to migrations of several databases`, EXIT.badInput);
      try {
        const result = await cutoverMigration(client, id, { lockSource: Boolean(opts.lockSource), ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}), ...(requireVerified ? { requireVerified } : {}) });
        console.log(opts.json ? JSON.stringify(result, null, 2) : renderCutover(result, Date.now() - started));
        process.exitCode = result.validation.mismatches.length ? EXIT.failed : EXIT.ok;
      } catch (err) {
        if (err instanceof NamespaceNotFoundError) throw err;
        throw new ExitError(`cutover of ${id} failed: ${failureText(err)}`, EXIT.failed);
      }
    });

  program
    .command('rollback')
    .description('after a cutover with a way back (incremental.wayBack, phase fallback-ready): make the target read-only, replay its last writes on the source, set the source\'s sequences, compare both, make the source writable again; prints the downtime')
    .argument('<workflowId>')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { json?: boolean }) => {
      const client = await clientOrExit();
      const started = Date.now();
      try {
        const result = await rollbackMigration(client, id);
        console.log(opts.json ? JSON.stringify(result, null, 2) : renderRollback(result, Date.now() - started));
        process.exitCode = result.validation.mismatches.length ? EXIT.failed : EXIT.ok;
      } catch (err) {
        if (err instanceof NamespaceNotFoundError) throw err;
        throw new ExitError(`rollback of ${id} failed: ${failureText(err)}`, EXIT.failed);
      }
    });

  program
    .command('finish')
    .description('after a cutover with a way back (phase fallback-ready): give the way back up; the reverse stream ends and its slot and publication on the target (and origin on the source) are dropped, and the migration completes')
    .argument('<workflowId>')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { json?: boolean }) => {
      const client = await clientOrExit();
      try {
        const result = await finishMigration(client, id);
        console.log(opts.json ? JSON.stringify(result, null, 2) : renderFinish(result));
      } catch (err) {
        if (err instanceof NamespaceNotFoundError) throw err;
        throw new ExitError(`finish of ${id} failed: ${failureText(err)}`, EXIT.failed);
      }
    });

  program
    .command('verify')
    .description('compare source and target while changes stream: every table at one source position, in key-range chunks (tables without a key whole), with the stream held only for a moment; exit 0 when every table is equal (or was repaired), 1 when chunks differ')
    .argument('<workflowId>')
    .option('--repair', 'copy again, under the stream\'s rules, every chunk that differs (looked at a second time first, to tell lag from divergence)')
    .option('--chunk-rows <n>', 'rows per chunk of a table with a one-column integer key (default 100000, or incremental.verify.chunkRows)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { repair?: boolean; chunkRows?: string; json?: boolean }) => {
      const chunkRows = opts.chunkRows === undefined ? undefined : Number(opts.chunkRows);
      if (chunkRows !== undefined && !(Number.isInteger(chunkRows) && chunkRows >= 1)) throw new ExitError(`--chunk-rows: ${JSON.stringify(opts.chunkRows)} is not a positive integer`, EXIT.badInput);
      const client = await clientOrExit();
      try {
        const round = await verifyMigration(client, id, { repair: Boolean(opts.repair), ...(chunkRows ? { chunkRows } : {}) });
        console.log(opts.json ? JSON.stringify(round, null, 2) : describeRound(round));
        process.exitCode = round.clean ? EXIT.ok : EXIT.failed;
      } catch (err) {
        if (err instanceof NamespaceNotFoundError) throw err;
        throw new ExitError(`verify ${id} failed: ${failureText(err)}`, EXIT.failed);
      }
    });

  program
    .command('pause')
    .description('pause a migration: no new table copy starts, running copies hold still where they are, schema steps stop at the next step, the change stream stops applying. The source snapshot (or replication slot) stays open meanwhile.')
    .argument('<workflowId>')
    .option('--json', 'machine-readable output')
    .action((id: string, opts: { json?: boolean }) => controlCommand(id, 'pause', Boolean(opts.json), (c) => pauseMigration(c, id)));

  program
    .command('resume')
    .description('resume a paused migration: everything goes on from exactly where it stopped')
    .argument('<workflowId>')
    .option('--json', 'machine-readable output')
    .action((id: string, opts: { json?: boolean }) => controlCommand(id, 'resume', Boolean(opts.json), (c) => resumeMigration(c, id)));

  program
    .command('throttle')
    .description('change the rate limits of a running migration, for all its parallel copies together (or its change stream); takes effect within seconds')
    .argument('<workflowId>')
    .option('--mb-per-second <n>', 'MB (MiB) per second of COPY data (change stream: of decoded changes)')
    .option('--rows-per-second <n>', 'rows per second (change stream: row changes applied)')
    .option('--phase <phase>', 'full (the copy) or incremental (the change stream); default both')
    .option('--unlimited', 'remove both limits (of --phase, or of both phases)')
    .option('--json', 'machine-readable output')
    .action((id: string, opts: { mbPerSecond?: string; rowsPerSecond?: string; phase?: string; unlimited?: boolean; json?: boolean }) => {
      let change;
      try {
        change = throttleChangeFromOptions(opts);
      } catch (err) {
        throw new ExitError((err as Error).message, EXIT.badInput);
      }
      return controlCommand(id, 'throttle', Boolean(opts.json), (c) => throttleMigration(c, id, change));
    });

  program
    .command('cancel')
    .description('cancel a migration: running work stops, the source snapshot is released')
    .argument('<workflowId>')
    .action(async (id: string) => {
      const client = await clientOrExit();
      await cancelMigration(client, id);
      console.log(`cancellation requested for ${id}; waiting for it to stop...`);
      const status = await follow(client, id, true);
      console.log(`${id}: ${status.state}`);
    });

  program
    .command('precheck')
    .description('run only the precheck and print every item with what to do; exit 1 when an item fails (notes never stop a migration; warnings do unless acknowledged: precheck.ignore, the prompt of start or --yes)')
    .argument('<spec>', 'migration spec file (YAML or JSON)')
    .option('--json', 'machine-readable output')
    .addOption(taskQueueOption())
    .action(async (specPath: string, opts: { json?: boolean; taskQueue: string }) => {
      const spec = specOrExit(specPath);
      const settings = settingsOrExit(opts.taskQueue);
      const report = await runPrecheck(await clientOrExit(settings), settings, spec);
      console.log(opts.json ? JSON.stringify(precheckJson(report), null, 2) : renderPrecheck(report));
      process.exitCode = report.ok ? EXIT.ok : EXIT.failed;
    });

  program
    .command('plan')
    .description('show what a migration with this spec would do, before anything starts: schemas and objects created (after selection and renames), each table with its size, row estimate and split, and the estimated copy time')
    .argument('<spec>', 'migration spec file (YAML or JSON)')
    .option('--mb-per-second <n>', 'estimate at this copy rate for the whole migration (MiB/s) instead of measuring one COPY stream on the source')
    .option('--json', 'machine-readable output')
    .addOption(taskQueueOption())
    .action(async (specPath: string, opts: { mbPerSecond?: string; json?: boolean; taskQueue: string }) => {
      const spec = specOrExit(specPath);
      if (spec.databases) throw new ExitError('plan takes a spec of one database: for several databases, plan each with its own spec', EXIT.badInput);
      const rate = opts.mbPerSecond === undefined ? undefined : Number(opts.mbPerSecond);
      if (rate !== undefined && !(rate > 0)) throw new ExitError(`--mb-per-second: ${JSON.stringify(opts.mbPerSecond)} is not a positive number`, EXIT.badInput);
      const settings = settingsOrExit(opts.taskQueue);
      const client = await clientOrExit(settings);
      let plan;
      try {
        plan = await runPlan(client, settings, spec, rate);
      } catch (err) {
        if (err instanceof NamespaceNotFoundError) throw err;
        throw new ExitError(`plan failed: ${failureText(err)}`, EXIT.failed);
      }
      console.log(opts.json ? JSON.stringify(plan, null, 2) : renderPlan(plan));
    });

  program
    .command('worker')
    .description('run a worker (it holds the database credentials: PGPASSWORD, pgpass, passwordEnv, passwordFile)')
    .addOption(taskQueueOption())
    .addOption(new Option('--metrics <address>', 'serve Prometheus metrics at http://<address>/metrics (a port, or host:port)').env('PGFERRY_METRICS_ADDRESS'))
    .action(async (opts: { taskQueue: string; metrics?: string }) => {
      // Loaded only here: the worker SDK takes most of a second to load, which every other
      // command (a cutover above all) would pay for nothing.
      const { workerConfig } = await import('../worker/config');
      const { runWorker } = await import('../worker/run-worker');
      const { metricsBindAddress, MetricsSettingError } = await import('../worker/metrics');
      try {
        await runWorker({ ...workerConfig(), taskQueue: opts.taskQueue, metricsAddress: metricsBindAddress(opts.metrics, '--metrics (PGFERRY_METRICS_ADDRESS)') });
      } catch (err) {
        if (err instanceof TemporalSettingsError || err instanceof MetricsSettingError) throw new ExitError(err.message, EXIT.badInput);
        if (err instanceof TemporalUnreachableError) throw new ExitError(err.message, EXIT.temporal);
        throw err;
      }
    });

  return program;
}

/**
 * On a terminal or with --yes: the precheck's table first, then go ahead (with the warnings
 * shown acknowledged), ask, or stop before anything starts. Otherwise the spec as it is.
 */
async function passPrecheckGate(client: Client, settings: TemporalSettings, spec: MigrationSpec, options: GateOptions, json: boolean): Promise<MigrationSpec> {
  if (!precheckBeforeStart(spec, options)) return spec;
  const report = await runPrecheck(client, settings, spec);
  if (!json) console.log(`${renderPrecheck(report)}\n`);
  const decision = gateDecision(report, options);
  if ('ask' in decision) {
    if (!(await askToGoAhead(decision.ask))) throw new ExitError('not started: the warnings were not accepted', EXIT.failed);
    return withAcknowledged(spec, decision.ask);
  }
  if (!decision.start) throw new ExitError(decision.reason, EXIT.failed);
  return withAcknowledged(spec, decision.acknowledge);
}

function webUiLink(settings: TemporalSettings, id: string): string {
  try {
    return workflowPageUrl(webUiBase(), settings.namespace, id);
  } catch (err) {
    if (err instanceof WebUiSettingError) return `(not shown: ${err.message})`;
    throw err;
  }
}

if (require.main === module) {
  // grpc-js hands an IP address to TLS as the server name, which Node flags on every TLS
  // connection to an IP address (DEP0123): nothing a user of the CLI can act on.
  process.noDeprecation = true;
  buildProgram()
    .parseAsync(process.argv)
    .then(
      // The gRPC channel would keep the process alive for a while: exit as soon as the command is done.
      () => {
        // Exit once everything printed has been flushed (a big --json report to a pipe).
        if (process.argv[2] !== 'worker') process.stdout.write('', () => process.exit(process.exitCode ?? EXIT.ok));
      },
      (err) => {
        // Any command, at its first call that names the namespace.
        if (err instanceof NamespaceNotFoundError) err = new ExitError(namespaceNotFound(temporalSettings().connection), EXIT.badInput);
        const code = err instanceof ExitError ? err.code : EXIT.failed;
        console.error(err instanceof Error ? err.message : String(err));
        process.exit(code);
      },
    );
}
