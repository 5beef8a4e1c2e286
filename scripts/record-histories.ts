/**
 * `npm run record-histories`: records the workflow histories that test/replay.test.ts replays.
 *
 * Starts a fresh Temporal dev server, a source and a target PostgreSQL and a worker (the test
 * support's), runs small real migrations of several shapes through the `pgferry` CLI, and saves
 * the full history of every workflow execution each one involved (the migration, its copy and
 * stream children, the parent of several databases and its per-database children, the precheck
 * workflow) as ProtoJSON under test/histories (the form of the SDK's historyToJSON). Child
 * executions are found by listing the server's workflows, and checked against the children
 * each recorded history started.
 *
 * Shapes whose files exist already are skipped: old histories are kept, new shapes are added.
 * A history that does not replay must never be re-recorded to make the replay pass (see
 * test/histories/README.md).
 *
 *   --only a,b      record only these shapes
 *   --force         overwrite the files of shapes that exist already
 *   --allow-dirty   record although workflows/ or common/ have uncommitted changes
 *   --list          list the shapes and exit
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { historyToJSON } from '../test/support/history-json';
import { runCli, startHarness, waitFor, waitForPhase, writeSpec, REPO, type CliResult, type Harness } from '../test/support/harness';
import { HISTORIES_DIR, parseHistory, replayHistories, type RecordedHistory } from '../test/support/replay';
import { startTemporalServer, type TemporalServer } from '../launch/temporal';
import { multiProgressQuery, progressQuery, streamProgressQuery } from '../workflows/messages';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Outcome = 'COMPLETED' | 'FAILED' | 'CANCELLED';

interface Shape {
  name: string;
  what: string;
  /** How the top-level workflow must end for the recording to show this shape. */
  outcome: Outcome;
  /** Runs the shape; returns the top-level workflow id. */
  run(ctx: Context): Promise<string>;
}

interface Context {
  h: Harness;
  /** A workflow id for this shape (ids are part of the history: the replay uses them). */
  id: string;
  /** `pgferry <args>`, failing the recording unless it exits 0. */
  ok(args: string[]): Promise<CliResult>;
  /** Creates a source database filled by `sql`. */
  source(db: string, sql: string): Promise<void>;
  /** Waits for the top-level workflow to end (any outcome). */
  ended(id: string): Promise<void>;
}

const SMALL_SQL = `
  CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
  INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 200) g;
  CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, total numeric(12,2));
  INSERT INTO orders (customer_id, total) SELECT 1 + g % 200, g * 1.25 FROM generate_series(1, 500) g;
  CREATE INDEX orders_customer_idx ON orders (customer_id);`;

/** With a table without any key: the precheck warns (tables-without-key). */
const WITH_KEYLESS_SQL = `${SMALL_SQL}
  CREATE TABLE events (at timestamptz NOT NULL DEFAULT '2024-01-01', what text);
  INSERT INTO events (what) SELECT 'event ' || g FROM generate_series(1, 100) g;`;

const STREAM_SQL = `
  CREATE TABLE items (id int PRIMARY KEY, v text);
  INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 300) g;
  CREATE TABLE notes (id serial PRIMARY KEY, item int REFERENCES items, body text);
  INSERT INTO notes (item, body) SELECT 1 + g % 300, md5(g::text) FROM generate_series(1, 300) g;`;

/** A table split into several chunks at copy.splitLargerThan 1MB. */
const LOST_SQL = `
  CREATE TABLE big (id bigint PRIMARY KEY, body text);
  INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 40000) g;`;

/** A full migration of a split table whose snapshot holder is killed after some chunks (`whileDown`: SQL run on the source meanwhile). */
function lostSnapshotShape(name: string, what: string, db: string, whileDown?: string): Shape {
  return {
    name,
    what,
    outcome: 'COMPLETED',
    async run({ h, id, ok, source }) {
      await source(db, LOST_SQL);
      await h.source.query('VACUUM ANALYZE', db); // no autovacuum ANALYZE (a write) during the recording
      const spec = writeSpec({ source: h.source.url(db), target: h.target.url(db), copy: { splitLargerThan: '1MB' }, parallelism: { tables: 2 }, throttle: { full: { mbPerSecond: 2 } } });
      await ok(['start', spec, '--id', id]);
      await killAfterChunks(h, db, 2, whileDown ? () => h.source.query(whileDown, db).then(() => undefined) : undefined);
      await ok(['status', id, '--watch']);
      return id;
    },
  };
}

/** Kills the only worker (the snapshot holder's) once `chunks` units are committed on the target, and starts a new one. */
async function killAfterChunks(h: Harness, db: string, chunks: number, whileDown?: () => Promise<void>): Promise<void> {
  const committed = async () => Number((await h.target.query<{ n: string }>('SELECT count(*) AS n FROM _pgferry.units', db).catch(() => [{ n: '0' }]))[0].n);
  await waitFor(`${db}: ${chunks} chunks committed`, async () => (await committed()) >= chunks, 120_000, 100);
  await h.worker.kill('SIGKILL');
  await whileDown?.();
  await h.restartWorker();
}

const INCREMENTAL = { types: ['schema', 'full', 'incremental'], precheck: { ignore: ['ddl-during-migration'] } };

/** Writes on the source of an incremental migration: inserts, updates and deletes. */
async function writes(h: Harness, db: string, round: number): Promise<void> {
  await h.source.query(
    `INSERT INTO items SELECT 1000 * ${round} + g, 'new ' || g FROM generate_series(1, 20) g;
     UPDATE items SET v = v || '!' WHERE id % 50 = ${round % 50};
     INSERT INTO notes (item, body) VALUES (1, 'round ${round}');
     DELETE FROM notes WHERE id = ${10 + round};`,
    db,
  );
}

/**
 * A migration of `db` (filled by STREAM_SQL) with incremental.wayBack taken to fallback-ready:
 * started, streaming, `whileStreaming` (if any), then `pgferry cutover <cutoverArgs>`.
 */
async function toFallbackReady({ h, id, ok, source }: Context, db: string, opts: { whileStreaming?: () => Promise<void>; cutoverArgs?: string[] } = {}): Promise<void> {
  await source(db, STREAM_SQL);
  const spec = writeSpec({ source: h.source.url(db), target: h.target.url(db), ...INCREMENTAL, incremental: { wayBack: true } });
  await ok(['start', spec, '--id', id]);
  await waitForPhase(h.client, id, 'streaming');
  await opts.whileStreaming?.();
  await ok(['cutover', id, ...(opts.cutoverArgs ?? [])]);
  await waitForPhase(h.client, id, 'fallback-ready');
}

async function streamedChanges(h: Harness, id: string): Promise<number> {
  return (await h.client.workflow.getHandle(`${id}/stream`).query(streamProgressQuery)).totalChanges;
}

async function waitForChanges(h: Harness, id: string, atLeast: number): Promise<void> {
  await waitFor(`${id}: ${atLeast} changes streamed`, async () => (await streamedChanges(h, id)) >= atLeast, 60_000, 250);
}

const SHAPES: Shape[] = [
  {
    name: 'precheck',
    what: '`pgferry precheck` (precheckWorkflow): the checks alone',
    outcome: 'COMPLETED',
    async run({ h, ok, source }) {
      await source('pre', WITH_KEYLESS_SQL);
      const spec = writeSpec({ source: h.source.url('pre'), target: h.target.url('pre_new'), precheck: { ignore: ['tables-without-key'] } });
      await ok(['precheck', spec]);
      const found = await listExecutions(h.client, `WorkflowType = "precheckWorkflow" AND TaskQueue = "${h.taskQueue}"`);
      if (found.length !== 1) throw new Error(`expected one precheck workflow, found ${found.length}`);
      return found[0].workflowId;
    },
  },
  {
    name: 'full-checksum',
    what: 'schema + full, validation checksum, three tables (one without a key, acknowledged), target database created by pgferry',
    outcome: 'COMPLETED',
    async run({ h, id, ok, source }) {
      await source('full', WITH_KEYLESS_SQL);
      const spec = writeSpec({ source: h.source.url('full'), target: h.target.url('full_new'), validation: 'checksum', precheck: { ignore: ['tables-without-key'] } });
      await ok(['start', spec, '--id', id, '--wait']);
      return id;
    },
  },
  {
    name: 'full-split-large-objects',
    what: 'schema + full, validation checksum: a table split into chunks (copy.splitLargerThan), large objects small and big',
    outcome: 'COMPLETED',
    async run({ h, id, ok, source }) {
      await source('split', `${SMALL_SQL}
        CREATE TABLE big (id bigint PRIMARY KEY, body text);
        INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 30000) g;
        SELECT lo_from_bytea(9001, 'small'::bytea);
        SELECT lo_from_bytea(9002, decode(repeat(md5('big'), 2 * 65536), 'hex'));
        COMMENT ON LARGE OBJECT 9001 IS 'recorded';`);
      const spec = writeSpec({ source: h.source.url('split'), target: h.target.url('split_new'), validation: 'checksum', copy: { splitLargerThan: '1MB' } });
      await ok(['start', spec, '--id', id, '--wait']);
      return id;
    },
  },
  {
    name: 'precheck-failed',
    what: 'an unacknowledged precheck warning (tables-without-key) stops the migration before it writes',
    outcome: 'FAILED',
    async run({ h, id, ok, source, ended }) {
      await source('unack', WITH_KEYLESS_SQL);
      await h.target.createDatabase('unack');
      await ok(['start', writeSpec({ source: h.source.url('unack'), target: h.target.url('unack') }), '--id', id]);
      await ended(id);
      return id;
    },
  },
  {
    name: 'objects-rename',
    what: 'objects: schema and table selection, an excluded column, a row filter, a column, table and schema renamed',
    outcome: 'COMPLETED',
    async run({ h, id, ok, source }) {
      await source(
        'objs',
        `CREATE SCHEMA sales;
         CREATE TABLE sales.customers (id int PRIMARY KEY, name text NOT NULL);
         INSERT INTO sales.customers SELECT g, 'customer ' || g FROM generate_series(1, 100) g;
         CREATE TABLE sales.orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES sales.customers, total numeric(12,2), placed date);
         INSERT INTO sales.orders SELECT g, 1 + g % 100, g * 1.25, date '2024-01-01' + g % 300 FROM generate_series(1, 600) g;
         CREATE VIEW sales.order_totals AS SELECT customer_id, sum(total) AS total FROM sales.orders GROUP BY customer_id;
         CREATE TABLE public.products (id int PRIMARY KEY, name text, internal_note text);
         INSERT INTO public.products SELECT g, 'product ' || g, 'note ' || g FROM generate_series(1, 50) g;
         CREATE INDEX products_note_idx ON public.products (internal_note);
         CREATE TABLE public.unselected (id int);`,
      );
      const spec = writeSpec({
        source: h.source.url('objs'),
        target: h.target.url('objs_new'),
        validation: 'checksum',
        objects: {
          include: ['sales', 'public.products'],
          exclude: ['public.products.internal_note'],
          rename: { sales: 'shop', 'sales.customers': 'clients' },
          tables: { 'sales.orders': { columns: { total: 'amount' }, where: "placed >= '2024-03-01'" } },
        },
      });
      await ok(['start', spec, '--id', id, '--wait']);
      return id;
    },
  },
  {
    name: 'copy-paused-throttled',
    what: 'throttle.full in the spec; paused in the middle of the copy, throttle changed, resumed',
    outcome: 'COMPLETED',
    async run({ h, id, ok, source }) {
      await source('slow', `CREATE TABLE rows (id int PRIMARY KEY, v text); INSERT INTO rows SELECT g, md5(g::text) FROM generate_series(1, 6000) g;`);
      const spec = writeSpec({ source: h.source.url('slow'), target: h.target.url('slow_new'), throttle: { full: { rowsPerSecond: 1000 } } });
      await ok(['start', spec, '--id', id]);
      const handle = h.client.workflow.getHandle(id);
      await waitFor(`${id}: a table copying`, async () => (await handle.query(progressQuery)).tables.some((t) => t.state === 'copying'), 120_000, 100);
      await ok(['pause', id]);
      await sleep(1_500);
      await ok(['throttle', id, '--rows-per-second', '3000', '--phase', 'full']);
      await sleep(500);
      await ok(['resume', id]);
      await ok(['status', id, '--watch']);
      return id;
    },
  },
  {
    name: 'scheduled-paused',
    what: 'startAt a few seconds ahead (a durable timer), paused while scheduled, resumed after its time',
    outcome: 'COMPLETED',
    async run({ h, id, ok, source }) {
      await source('sched', SMALL_SQL);
      const startAt = Date.now() + 6_000;
      const spec = writeSpec({ source: h.source.url('sched'), target: h.target.url('sched_new'), startAt: new Date(startAt).toISOString() });
      await ok(['start', spec, '--id', id]);
      await ok(['pause', id]);
      await ok(['throttle', id, '--mb-per-second', '50']);
      await sleep(startAt + 2_000 - Date.now());
      await ok(['resume', id]);
      await ok(['status', id, '--watch']);
      return id;
    },
  },
  {
    name: 'scheduled-cancelled',
    what: 'startAt an hour ahead, cancelled before its time: no activity ran',
    outcome: 'CANCELLED',
    async run({ h, id, ok, source, ended }) {
      await source('later', SMALL_SQL);
      const spec = writeSpec({ source: h.source.url('later'), target: h.target.url('later_new'), startAt: new Date(Date.now() + 3_600_000).toISOString() });
      await ok(['start', spec, '--id', id]);
      await waitForPhase(h.client, id, 'scheduled', 30_000);
      await ok(['cancel', id]);
      await ended(id);
      return id;
    },
  },
  lostSnapshotShape(
    'full-snapshot-lost',
    'schema + full, a split table: the worker holding the snapshot killed after some chunks; the source is quiet, so the copy goes on under the new snapshot (copySnapshot signal), keeping everything',
    'lost',
  ),
  lostSnapshotShape(
    'full-snapshot-lost-writes',
    'schema + full, a split table: the snapshot holder killed after some chunks and the source written meanwhile: the copy stops and a second data phase copies everything again (copy-2)',
    'lostw',
    `UPDATE big SET body = 'written while the holder was down' WHERE id = 1`,
  ),
  {
    name: 'incremental-snapshot-lost',
    what: 'schema + full + incremental, a split table: the snapshot holder killed after some chunks; the copy goes on under the new snapshot, the stream starts from the first slot with a sync plan, then `pgferry cutover`',
    outcome: 'COMPLETED',
    async run({ h, id, ok, source }) {
      await source('inclost', `${STREAM_SQL}\n${LOST_SQL}`);
      const spec = writeSpec({ source: h.source.url('inclost'), target: h.target.url('inclost'), ...INCREMENTAL, copy: { splitLargerThan: '1MB' }, parallelism: { tables: 2 }, throttle: { full: { mbPerSecond: 2 } } });
      await ok(['start', spec, '--id', id]);
      await killAfterChunks(h, 'inclost', 2);
      await writes(h, 'inclost', 1);
      await waitForPhase(h.client, id, 'streaming', 120_000);
      await writes(h, 'inclost', 2);
      await waitForChanges(h, id, 20);
      await ok(['cutover', id]);
      await ok(['status', id, '--watch']);
      return id;
    },
  },
  {
    name: 'incremental-cutover',
    what: 'schema + full + incremental, validation checksum: writes streamed, then `pgferry cutover`',
    outcome: 'COMPLETED',
    async run({ h, id, ok, source }) {
      await source('inc', STREAM_SQL);
      const spec = writeSpec({ source: h.source.url('inc'), target: h.target.url('inc'), validation: 'checksum', ...INCREMENTAL });
      await ok(['start', spec, '--id', id]);
      await waitForPhase(h.client, id, 'streaming');
      for (let round = 1; round <= 3; round += 1) await writes(h, 'inc', round);
      await waitForChanges(h, id, 60);
      await ok(['cutover', id]);
      await ok(['status', id, '--watch']);
      return id;
    },
  },
  {
    name: 'incremental-cutover-timeout',
    what: 'incremental: `pgferry cutover --lock-source --timeout 2` while a session locks the target table (abandoned: the source unlocked, the stream goes on), then `pgferry cutover`',
    outcome: 'COMPLETED',
    async run({ h, id, ok, source }) {
      await source('cto', STREAM_SQL);
      const spec = writeSpec({ source: h.source.url('cto'), target: h.target.url('cto'), ...INCREMENTAL });
      await ok(['start', spec, '--id', id]);
      await waitForPhase(h.client, id, 'streaming');
      const blocker = new PgClient({ connectionString: h.target.url('cto') });
      await blocker.connect();
      await blocker.query('BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
      await writes(h, 'cto', 1);
      const abandoned = await runCli(['cutover', id, '--lock-source', '--timeout', '2'], h.cliEnv);
      if (abandoned.code !== 1) throw new Error(`the time-boxed cutover should have given up: ${abandoned.stdout} ${abandoned.stderr}`);
      await blocker.query('COMMIT');
      await blocker.end();
      await writes(h, 'cto', 2);
      await waitForChanges(h, id, 40);
      await ok(['cutover', id]);
      await ok(['status', id, '--watch']);
      return id;
    },
  },
  {
    name: 'incremental-way-back-rollback',
    what: 'incremental with incremental.wayBack: `pgferry cutover --lock-source` prepares the way back, writes on the target stream back (fallback-ready), then `pgferry rollback`',
    outcome: 'COMPLETED',
    async run(ctx) {
      const { h, id, ok } = ctx;
      await toFallbackReady(ctx, 'wbr', {
        whileStreaming: async () => {
          await writes(h, 'wbr', 1);
          await waitForChanges(h, id, 20);
        },
        cutoverArgs: ['--lock-source'],
      });
      await h.target.query(`INSERT INTO items SELECT g, 'on the target' FROM generate_series(5001, 5020) g; UPDATE items SET v = 'changed on the target' WHERE id <= 10`, 'wbr');
      await waitFor('target writes on the source', async () => (await h.source.query(`SELECT 1 FROM items WHERE id = 5020`, 'wbr')).length === 1, 60_000);
      await ok(['rollback', id]);
      return id;
    },
  },
  {
    name: 'incremental-way-back-finish',
    what: 'incremental with incremental.wayBack: `pgferry cutover`, a write on the target streamed back, then `pgferry finish`',
    outcome: 'COMPLETED',
    async run(ctx) {
      const { h, id, ok } = ctx;
      await toFallbackReady(ctx, 'wbf');
      await h.target.query(`DELETE FROM notes WHERE id <= 5`, 'wbf');
      await waitFor('the delete on the source', async () => (await h.source.query(`SELECT 1 FROM notes WHERE id <= 5`, 'wbf')).length === 0, 60_000);
      await ok(['finish', id]);
      return id;
    },
  },
  {
    name: 'incremental-way-back-cancelled',
    what: 'incremental with incremental.wayBack: `pgferry cutover`, then `pgferry cancel` in fallback-ready: the way back and the bookkeeping are dropped on the way out',
    outcome: 'CANCELLED',
    async run(ctx) {
      const { id, ok, ended } = ctx;
      await toFallbackReady(ctx, 'wbc');
      await ok(['cancel', id]);
      await ended(id);
      return id;
    },
  },
  {
    name: 'incremental-verify',
    what: 'incremental with incremental.verify every 3 s: a scheduled round, `pgferry verify` finding a row changed on the target, `verify --repair`, a refused and an accepted `cutover --require-verified`',
    outcome: 'COMPLETED',
    async run({ h, id, ok, source }) {
      await source('ver', STREAM_SQL);
      const spec = writeSpec({ source: h.source.url('ver'), target: h.target.url('ver'), ...INCREMENTAL, incremental: { verify: { every: 0.05 } } });
      await ok(['start', spec, '--id', id]);
      await waitForPhase(h.client, id, 'streaming');
      await writes(h, 'ver', 1);
      await waitForChanges(h, id, 20);
      await sleep(4_000); // a scheduled round
      await h.target.query(`UPDATE items SET v = 'changed behind pgferry' WHERE id = 7`, 'ver');
      const found = await runCli(['verify', id], h.cliEnv);
      if (found.code !== 1) throw new Error(`verify should find the changed row: exit ${found.code}\n${found.stdout}${found.stderr}`);
      const refused = await runCli(['cutover', id, '--require-verified'], h.cliEnv);
      if (refused.code !== 1) throw new Error(`cutover --require-verified should be refused: exit ${refused.code}`);
      await ok(['verify', id, '--repair']);
      await writes(h, 'ver', 2);
      await ok(['cutover', id, '--require-verified=10m']);
      await ok(['status', id, '--watch']);
      return id;
    },
  },
  {
    name: 'incremental-ddl-console',
    what: 'incremental on a namespace with the search attributes, DDL replicated while streaming (a column added, a table created), a cutoverRequest signal sent too early, then `pgferry cutover`',
    outcome: 'COMPLETED',
    async run({ h, id, ok, source }) {
      await source('ddlc', STREAM_SQL);
      const spec = writeSpec({ source: h.source.url('ddlc'), target: h.target.url('ddlc'), types: ['schema', 'full', 'incremental'] });
      await ok(['start', spec, '--id', id]);
      // Refused (not streaming yet, or already asked): said in the details and report.
      await h.client.workflow.getHandle(id).signal('cutoverRequest', { lockSource: false });
      await waitForPhase(h.client, id, 'streaming');
      await writes(h, 'ddlc', 1);
      await h.source.query(`ALTER TABLE items ADD COLUMN tag text DEFAULT 'x'; CREATE TABLE extra (id int PRIMARY KEY, v text); INSERT INTO extra VALUES (1, 'a')`, 'ddlc');
      await writes(h, 'ddlc', 2);
      await waitForChanges(h, id, 40);
      await ok(['cutover', id]);
      await ok(['status', id, '--watch']);
      return id;
    },
  },
  {
    name: 'incremental-large-objects',
    what: 'incremental with large objects: one changed and one created while streaming, brought over at cutover',
    outcome: 'COMPLETED',
    async run({ h, id, ok, source }) {
      await source('inclo', `${STREAM_SQL}
        SELECT lo_from_bytea(9101, 'version 1'::bytea);`);
      const spec = writeSpec({ source: h.source.url('inclo'), target: h.target.url('inclo'), ...INCREMENTAL, precheck: { ignore: ['ddl-during-migration', 'large-objects-stream'] } });
      await ok(['start', spec, '--id', id]);
      await waitForPhase(h.client, id, 'streaming');
      await writes(h, 'inclo', 1);
      await h.source.query(`SELECT lo_put(9101, 8, '2'::bytea); SELECT lo_from_bytea(9102, 'new'::bytea);`, 'inclo');
      await waitForChanges(h, id, 20);
      await ok(['cutover', id]);
      await ok(['status', id, '--watch']);
      return id;
    },
  },
  {
    name: 'incremental-controlled',
    what: 'throttle.incremental in the spec; the stream paused, written to, throttle changed, resumed, then `pgferry cutover --lock-source`',
    outcome: 'COMPLETED',
    async run({ h, id, ok, source }) {
      await source('ctl', STREAM_SQL);
      const spec = writeSpec({ source: h.source.url('ctl'), target: h.target.url('ctl'), throttle: { incremental: { rowsPerSecond: 500 } }, ...INCREMENTAL });
      await ok(['start', spec, '--id', id]);
      await waitForPhase(h.client, id, 'streaming');
      await writes(h, 'ctl', 1);
      await waitForChanges(h, id, 20);
      await ok(['pause', id]);
      await writes(h, 'ctl', 2);
      await sleep(1_500);
      await ok(['throttle', id, '--rows-per-second', '2000', '--phase', 'incremental']);
      await ok(['resume', id]);
      await waitForChanges(h, id, 40);
      await ok(['cutover', id, '--lock-source']);
      await ok(['status', id, '--watch']);
      return id;
    },
  },
  {
    name: 'incremental-continue-as-new',
    what: 'incremental.historyBudget 60: the stream workflow continues as new while streaming, then cutover',
    outcome: 'COMPLETED',
    async run({ h, id, ok, source }) {
      await source('can', STREAM_SQL);
      const spec = writeSpec({ source: h.source.url('can'), target: h.target.url('can'), incremental: { historyBudget: 60 }, ...INCREMENTAL });
      await ok(['start', spec, '--id', id]);
      await waitForPhase(h.client, id, 'streaming');
      const stream = h.client.workflow.getHandle(`${id}/stream`);
      const firstRun = (await stream.describe()).runId;
      for (let round = 1; (await stream.describe()).runId === firstRun; round += 1) {
        if (round > 60) throw new Error(`${id}/stream did not continue as new`);
        await writes(h, 'can', round);
        await stream.signal('pauseStream', { paused: false }); // each signal costs history events
        await sleep(100);
      }
      await writes(h, 'can', 99);
      await sleep(1_000);
      await ok(['cutover', id]);
      await ok(['status', id, '--watch']);
      return id;
    },
  },
  {
    name: 'incremental-cancelled',
    what: 'incremental, cancelled while streaming: the stream child is cancelled, slot and publication dropped',
    outcome: 'CANCELLED',
    async run({ h, id, ok, source, ended }) {
      await source('cnl', STREAM_SQL);
      await ok(['start', writeSpec({ source: h.source.url('cnl'), target: h.target.url('cnl'), ...INCREMENTAL }), '--id', id]);
      await waitForPhase(h.client, id, 'streaming');
      await writes(h, 'cnl', 1);
      await waitForChanges(h, id, 20);
      await ok(['cancel', id]);
      await ended(id);
      return id;
    },
  },
  {
    name: 'incremental-ddl-failed',
    what: 'incremental, source DDL while streaming: the stream fails (SourceSchemaChanged), the migration fails and cleans up',
    outcome: 'FAILED',
    async run({ h, id, ok, source, ended }) {
      await source('ddl', STREAM_SQL);
      await ok(['start', writeSpec({ source: h.source.url('ddl'), target: h.target.url('ddl'), ...INCREMENTAL }), '--id', id]);
      await waitForPhase(h.client, id, 'streaming');
      await writes(h, 'ddl', 1);
      await waitForChanges(h, id, 20);
      await h.source.query(`ALTER TABLE items ADD COLUMN extra integer; INSERT INTO items VALUES (7001, 'x', 7);`, 'ddl');
      await ended(id);
      return id;
    },
  },
  {
    name: 'databases',
    what: 'several databases (one renamed), incremental: one database cut over through its own workflow, the other through the parent',
    outcome: 'COMPLETED',
    async run({ h, id, ok, source }) {
      await source('db_a', STREAM_SQL);
      await source('db_b', STREAM_SQL);
      const spec = writeSpec({
        source: h.source.url('postgres'),
        target: h.target.url('postgres'),
        databases: [{ source: 'db_a', target: 'db_a_new' }, 'db_b'],
        ...INCREMENTAL,
      });
      await ok(['start', spec, '--id', id]);
      const parent = h.client.workflow.getHandle(id);
      await waitFor(`${id}: every database streaming`, async () => (await parent.query(multiProgressQuery)).databases.every((d) => d.state === 'streaming'), 240_000, 300);
      await writes(h, 'db_a', 1);
      await writes(h, 'db_b', 1);
      await waitForChanges(h, `${id}/db-db_a`, 20);
      await waitForChanges(h, `${id}/db-db_b`, 20);
      await ok(['cutover', `${id}/db-db_b`]);
      await ok(['cutover', id]);
      await ok(['status', id, '--watch']);
      return id;
    },
  },
  {
    name: 'databases-failed',
    what: 'several databases, schema + full: one migrates, one source database is missing, the parent fails naming it',
    outcome: 'FAILED',
    async run({ h, id, ok, source, ended }) {
      await source('db_c', SMALL_SQL);
      const spec = writeSpec({ source: h.source.url('postgres'), target: h.target.url('postgres'), databases: ['db_c', { source: 'missing_db', target: 'missing_new' }] });
      await ok(['start', spec, '--id', id]);
      await ended(id);
      return id;
    },
  },
];

/** Every execution (each run of each workflow) the server lists for `query`. */
async function listExecutions(client: Client, query: string): Promise<WorkflowExecutionInfo[]> {
  const out: WorkflowExecutionInfo[] = [];
  for await (const wf of client.workflow.list({ query })) out.push(wf);
  return out;
}

/**
 * The executions of one shape: the top-level workflow and every workflow whose id starts with
 * `<id>/` (children, and children of children), each run of each, once all are closed and
 * every child any of their histories started is among them.
 */
async function collectExecutions(h: Harness, topId: string): Promise<Array<{ info: WorkflowExecutionInfo; json: string; parsed: RecordedHistory }>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const all = await listExecutions(h.client, `TaskQueue = "${h.taskQueue}"`);
    const mine = all.filter((wf) => wf.workflowId === topId || wf.workflowId.startsWith(`${topId}/`));
    const closed = mine.every((wf) => wf.status.name !== 'RUNNING');
    if (closed && mine.length) {
      const recorded = [];
      for (const info of mine) {
        const history = await h.client.workflow.getHandle(info.workflowId, info.runId).fetchHistory();
        const json = historyToJSON(history);
        recorded.push({ info, json, parsed: parseHistory(info.workflowId, json) });
      }
      const missing = missingExecutions(recorded.map((r) => r.parsed));
      if (!missing.length) return recorded;
      if (Date.now() > deadline) throw new Error(`${topId}: the server does not list ${missing.join(', ')}`);
    } else if (Date.now() > deadline) {
      throw new Error(`${topId}: executions still running after 60 s: ${mine.filter((wf) => wf.status.name === 'RUNNING').map((wf) => wf.workflowId).join(', ')}`);
    }
    await sleep(500); // visibility lags behind a little
  }
}

/** Children started and runs continued-as-new that the histories name but that were not recorded. */
function missingExecutions(histories: RecordedHistory[]): string[] {
  const ids = new Set(histories.map((h) => h.workflowId));
  const runsOf = new Map<string, number>();
  for (const h of histories) runsOf.set(h.workflowId, (runsOf.get(h.workflowId) ?? 0) + 1);
  const missing: string[] = [];
  for (const h of histories) {
    for (const e of h.history.events ?? []) {
      const child = e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
      if (child && !ids.has(child)) missing.push(child);
    }
  }
  // A run that continued as new has a successor: one more run of that id than runs that continued.
  for (const [id, runs] of runsOf) {
    const continued = histories.filter((h) => h.workflowId === id && h.history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes).length;
    if (continued >= runs) missing.push(`the run after the last one of ${id}`);
  }
  return missing;
}

/** `<shape>[.<child id after "<id>/", "/" as ".">][.run-N].json` */
function fileName(shape: string, topId: string, info: WorkflowExecutionInfo, runIndex: number | undefined): string {
  const rest = info.workflowId === topId ? '' : `.${info.workflowId.slice(topId.length + 1).replace(/\//g, '.')}`;
  return `${shape}${rest}${runIndex === undefined ? '' : `.run-${runIndex}`}.json`;
}

function git(args: string[]): string {
  return execFileSync('git', args, { cwd: REPO, encoding: 'utf8' }).trim();
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const flag = (f: string) => argv.includes(f);
  const onlyAt = argv.indexOf('--only');
  const only = onlyAt >= 0 ? new Set(argv[onlyAt + 1]?.split(',') ?? []) : undefined;
  if (flag('--list')) {
    for (const s of SHAPES) console.log(`${s.name.padEnd(28)} ${s.outcome.padEnd(9)} ${s.what}`);
    return 0;
  }
  const unknown = [...(only ?? [])].filter((n) => !SHAPES.some((s) => s.name === n));
  if (unknown.length) {
    console.error(`no such shape: ${unknown.join(', ')} (--list shows them)`);
    return 2;
  }
  const dirty = git(['status', '--porcelain', '--', 'workflows', 'common']);
  if (dirty && !flag('--allow-dirty')) {
    console.error(`workflows/ or common/ have uncommitted changes; histories must come from committed code:\n${dirty}\n(--allow-dirty records anyway)`);
    return 2;
  }
  const commit = `${git(['rev-parse', '--short', 'HEAD'])}${dirty ? '+uncommitted' : ''}`;
  mkdirSync(HISTORIES_DIR, { recursive: true });
  const todo = SHAPES.filter((s) => (!only || only.has(s.name)) && (flag('--force') || !existsSync(join(HISTORIES_DIR, `${s.name}.json`))));
  for (const s of SHAPES.filter((s) => (!only || only.has(s.name)) && !todo.includes(s))) console.log(`${s.name}: recorded already (kept; --force overwrites)`);
  if (!todo.length) return 0;

  const bundle = join(REPO, 'dist', 'workflow-bundle.js');
  if (!existsSync(bundle)) throw new Error(`no ${bundle}: run npm run build first`);
  console.log(`recording ${todo.map((s) => s.name).join(', ')} with the workflows of ${commit}...`);
  const server: TemporalServer = await startTemporalServer();
  let h: Harness | undefined;
  const written: Array<{ shape: Shape; file: string; parsed: RecordedHistory; status: string }> = [];
  try {
    h = await startHarness({ name: 'record', temporalAddress: server.address, targetLogical: true }); // logical: the way back's shapes
    const harness = h;
    for (const shape of todo) {
      const started = Date.now();
      const id = `rec-${shape.name}`;
      const ctx: Context = {
        h: harness,
        id,
        async ok(args) {
          const r = await runCli(args, harness.cliEnv);
          if (r.code !== 0) throw new Error(`${shape.name}: pgferry ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
          return r;
        },
        async source(db, sql) {
          await harness.source.createDatabase(db);
          await harness.source.query(sql, db);
        },
        async ended(wf) {
          await harness.client.workflow.getHandle(wf).result().catch(() => undefined);
        },
      };
      const topId = await shape.run(ctx);
      const top = await harness.client.workflow.getHandle(topId).describe();
      await ctx.ended(topId);
      const status = (await harness.client.workflow.getHandle(topId).describe()).status.name;
      if (status !== shape.outcome) throw new Error(`${shape.name}: ${topId} ended ${status}, expected ${shape.outcome}\n${harness.worker.output().slice(-3000)}`);
      const executions = await collectExecutions(harness, topId);
      // Several runs of one id (continue-as-new) are numbered in the order they started.
      executions.sort((a, b) => a.info.workflowId.localeCompare(b.info.workflowId) || a.info.startTime.getTime() - b.info.startTime.getTime());
      const files: string[] = [];
      for (const e of executions) {
        const runs = executions.filter((x) => x.info.workflowId === e.info.workflowId);
        const index = runs.length > 1 ? runs.indexOf(e) + 1 : undefined;
        const file = fileName(shape.name, topId, e.info, index);
        files.push(file);
        written.push({ shape, file, parsed: { ...e.parsed, file }, status: e.info.status.name });
        writeFileSync(join(HISTORIES_DIR, file), `${e.json}\n`);
      }
      console.log(`${shape.name}: ${top.type} ${status} in ${((Date.now() - started) / 1000).toFixed(1)} s → ${files.join(', ')}`);
    }
  } finally {
    await h?.close();
    await server.stop();
  }

  // What was just recorded must replay against the code that recorded it.
  const outcomes = await replayHistories({ codePath: bundle }, written.map((w) => w.parsed));
  const failed = outcomes.filter((o) => o.error);
  for (const o of failed) console.error(`${o.file} does not replay: ${o.error?.message}`);
  if (failed.length || outcomes.length !== written.length) return 1;

  updateIndex(written.map((w) => ({ file: w.file, type: w.parsed.workflowType, events: w.parsed.events, status: w.status, shape: w.shape.name, what: w.shape.what, commit })));
  console.log(`\n${written.length} histories written to ${HISTORIES_DIR} and replayed; the table in its README.md lists them.`);
  return 0;
}

const INDEX_START = '<!-- recorded histories: written by scripts/record-histories.ts -->';
const INDEX_END = '<!-- end of recorded histories -->';

/** The table of recorded files in test/histories/README.md, between its two markers: new rows added, re-recorded rows replaced. */
function updateIndex(rows: Array<{ file: string; type: string; events: number; status: string; shape: string; what: string; commit: string }>): void {
  const readme = join(HISTORIES_DIR, 'README.md');
  const text = existsSync(readme) ? readFileSync(readme, 'utf8') : `# Recorded workflow histories\n\n${INDEX_START}\n${INDEX_END}\n`;
  const start = text.indexOf(INDEX_START);
  const end = text.indexOf(INDEX_END);
  if (start < 0 || end < start) throw new Error(`${readme}: the markers of the table are missing`);
  const lines = new Map<string, string>();
  for (const line of text.slice(start + INDEX_START.length, end).split('\n')) {
    const m = /^\| `([^`]+)` \|/.exec(line);
    if (m) lines.set(m[1], line);
  }
  for (const r of rows) lines.set(r.file, `| \`${r.file}\` | ${r.type} | ${r.status.toLowerCase()} | ${r.events} | ${r.commit} | ${r.file === `${r.shape}.json` ? r.what : ''} |`);
  const table = ['| file | workflow | ended | events | recorded at | shape |', '|---|---|---|---:|---|---|', ...[...lines.keys()].sort().map((k) => lines.get(k)!)];
  writeFileSync(readme, `${text.slice(0, start + INDEX_START.length)}\n${table.join('\n')}\n${text.slice(end)}`);
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.stack ?? err.message : String(err));
    process.exit(1);
  },
);
