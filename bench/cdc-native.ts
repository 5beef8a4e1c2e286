/**
 * PostgreSQL's native logical replication as the bar pgferry is measured against: the schema by
 * `pg_dump --schema-only | psql`, then a publication of every table and `CREATE SUBSCRIPTION`
 * with the initial copy. Pausing is `ALTER SUBSCRIPTION ... DISABLE` (the slot keeps the
 * changes); its cutover is what an operator would do: wait for the slot to confirm the end of
 * the writes, set the sequences, compare the row counts, drop the subscription.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { PgCluster } from '../launch/postgres';
import { PG_BIN } from '../launch/postgres';
import type { CdcContender, CdcContext } from './cdc-contender';
import { currentLsn, slotActive, waitConfirmed } from './cdc-lag';
import { compareCounts } from './cdc-pgbench';

const run = promisify(execFile);
const NAME = 'bench_native';

const conn = (c: PgCluster, db: string) => `-h ${c.host} -p ${c.port} -U postgres -d ${db}`;

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function nativeReplication(): CdcContender {
  let ctx: CdcContext;
  const active = () => slotActive(ctx.source, ctx.db, NAME);
  return {
    name: 'native logical replication',
    slot: () => NAME,
    async ownLag() {
      const [row] = await ctx.source.query<{ lag: number | null }>(`SELECT extract(epoch FROM replay_lag)::float8 AS lag FROM pg_stat_replication WHERE application_name = $1`, ctx.db, [NAME]);
      return row?.lag ?? undefined;
    },
    async setup(c) {
      ctx = c;
      const { source, target, db } = ctx;
      await target.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await target.createDatabase(db);
      await run('bash', ['-o', 'pipefail', '-c', `${PG_BIN}/pg_dump --schema-only ${conn(source, db)} | ${PG_BIN}/psql -X -q -v ON_ERROR_STOP=1 ${conn(target, db)} > /dev/null`]);
      await source.query(`CREATE PUBLICATION ${NAME} FOR ALL TABLES`, db);
      await target.query(`CREATE SUBSCRIPTION ${NAME} CONNECTION 'host=${source.host} port=${source.port} user=postgres dbname=${db}' PUBLICATION ${NAME} WITH (copy_data = true)`, db);
      const [{ n }] = await source.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_publication_tables WHERE pubname = '${NAME}'`, db);
      await until('initial sync of every table', 30 * 60_000, async () => {
        const [row] = await target.query<{ ready: number }>(`SELECT count(*) FILTER (WHERE srsubstate = 'r')::int AS ready FROM pg_subscription_rel`, db);
        return row.ready === n;
      });
      await until('the subscription streaming', 60_000, active);
    },
    async pause() {
      await ctx.target.query(`ALTER SUBSCRIPTION ${NAME} DISABLE`, ctx.db);
      await until('the apply worker stopped', 60_000, async () => !(await active()));
    },
    async resume() {
      await ctx.target.query(`ALTER SUBSCRIPTION ${NAME} ENABLE`, ctx.db);
    },
    async cutover(writesStoppedAt) {
      const { source, target, db } = ctx;
      await waitConfirmed(source, db, NAME, await currentLsn(source, db), writesStoppedAt, 10 * 60_000);
      const sequences = await source.query<{ name: string; value: string }>(
        `SELECT format('%I.%I', schemaname, sequencename) AS name, last_value::text AS value FROM pg_sequences WHERE last_value IS NOT NULL`,
        db,
      );
      if (sequences.length) await target.query(sequences.map((s) => `SELECT setval('${s.name.replace(/'/g, "''")}', ${s.value});`).join('\n'), db);
      const mismatches = await compareCounts(source, target, db);
      await target.query(`DROP SUBSCRIPTION ${NAME}`, db);
      const wallMs = Date.now() - writesStoppedAt;
      await source.query(`DROP PUBLICATION ${NAME}`, db);
      return { downtimeMs: wallMs, wallMs, detail: mismatches.length ? `count mismatch: ${mismatches.join('; ')}` : undefined };
    },
    async teardown() {
      if (!ctx) return;
      await ctx.target.query(`DROP SUBSCRIPTION IF EXISTS ${NAME}`, ctx.db).catch(() => undefined);
      await ctx.source.query(`DROP PUBLICATION IF EXISTS ${NAME}`, ctx.db).catch(() => undefined);
      await ctx.source.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, ctx.db, [NAME]).catch(() => undefined);
    },
  };
}
