/**
 * `node dist/bench/copy-contention.js [--runs N]`: what the target spends on the big tables'
 * copies (its cluster's user and system CPU, and the wall time), alone and side by side, fed by
 * pgferry's COPY relay (binary, as pgferry copies, or text) or by a `psql | psql` pipe (text,
 * as `pg_dump | psql` feeds it). Each copy truncates and fills its table with FREEZE in one
 * transaction, as pgferry's copy units do. Not part of `npm run bench`: it answers whether the
 * data path itself costs the target more than the peer's (bench/RESULTS-levers.md, eleventh
 * pass).
 */
import { pipeline } from 'node:stream/promises';
import { PG_BIN, startPostgres, type PgCluster } from '../launch/postgres';
import { agreedRowCount, CopyInRelay, CopyOutRelay } from '../activities/copy/copy-relay';
import { buildBigDatabase, FULL_SIZE } from './dataset';
import { BENCH_SETTINGS } from './settings';
import { postmasterPid, TICKS, userSystemTicks } from './proc-times';
import { postmasterChildren, processKind } from './process-titles';
import { conn, shell } from './tools';
import { arg } from './bench-helpers';

/**
 * Waits until the cluster's client sessions have ended and been reaped. A session's CPU moves
 * from its own account to the postmaster's when it is reaped: read in between, it would be
 * counted in neither.
 */
async function sessionsEnded(postmaster: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  const open = () => [...postmasterChildren(postmaster).values()].some((c) => processKind(c.title).startsWith('backend '));
  while (open() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

/** User and system seconds of a cluster with no session open: its postmaster (own and reaped children's) and its background processes. */
async function clusterUserSystem(c: PgCluster): Promise<[number, number]> {
  const root = postmasterPid(c);
  await sessionsEnded(root);
  let [user, system] = [0, 0];
  for (const pid of [root, ...postmasterChildren(root).keys()]) {
    const t = userSystemTicks(pid);
    user += t?.user ?? 0;
    system += t?.system ?? 0;
  }
  return [user / TICKS, system / TICKS];
}

async function relay(source: PgCluster, target: PgCluster, table: string, format: 'binary' | 'text'): Promise<void> {
  const src = await source.connect('bench');
  const tgt = await target.connect('bench');
  try {
    await tgt.query(`BEGIN; TRUNCATE ${table}`);
    const reader = src.query(new CopyOutRelay(`COPY ${table} TO STDOUT (FORMAT ${format})`, format === 'binary'));
    const writer = tgt.query(new CopyInRelay(`COPY ${table} FROM STDIN (FORMAT ${format}, FREEZE)`));
    await pipeline(reader, writer);
    await agreedRowCount(reader, writer); // a relay that lost rows would be measured as a fast one
    await tgt.query('COMMIT');
  } finally {
    await src.end();
    await tgt.end();
  }
}

async function psqlPipe(source: PgCluster, target: PgCluster, table: string): Promise<void> {
  await shell(`${PG_BIN}/psql -X -q ${conn(source, 'bench')} -c "COPY ${table} TO STDOUT" | ${PG_BIN}/psql -X -q -v ON_ERROR_STOP=1 ${conn(target, 'bench')} -c "BEGIN" -c "TRUNCATE ${table}" -c "COPY ${table} FROM STDIN (FREEZE)" -c "COMMIT"`, {}, false);
}

async function main(): Promise<void> {
  const runs = Number(arg('--runs') ?? 2);
  const source = await startPostgres({ name: 'cont-src', settings: BENCH_SETTINGS });
  const target = await startPostgres({ name: 'cont-tgt', settings: BENCH_SETTINGS });
  try {
    console.log('building the bench database...');
    await buildBigDatabase(source, 'bench', FULL_SIZE);
    await target.createDatabase('bench');
    await shell(`${PG_BIN}/pg_dump --section=pre-data ${conn(source, 'bench')} | ${PG_BIN}/psql -X -q -v ON_ERROR_STOP=1 ${conn(target, 'bench')}`, {}, false);
    const sets = [['pgbench_accounts'], ['wide'], ['pgbench_accounts', 'wide'], ['pgbench_accounts', 'wide', 'nokey']];
    const modes = ['relay binary', 'relay text', 'psql text'] as const;
    for (let round = 0; round < runs; round += 1) {
      for (const set of sets) {
        for (const mode of round % 2 ? [...modes].reverse() : modes) {
          await target.query('CHECKPOINT', 'bench');
          const [u0, s0] = await clusterUserSystem(target);
          const started = process.hrtime.bigint();
          await Promise.all(set.map((t) => (mode === 'psql text' ? psqlPipe(source, target, t) : relay(source, target, t, mode === 'relay binary' ? 'binary' : 'text'))));
          const wall = Number(process.hrtime.bigint() - started) / 1e9;
          const [u1, s1] = await clusterUserSystem(target);
          console.log(`${set.join('+').padEnd(22)} ${mode.padEnd(12)} wall ${wall.toFixed(2)} s  target user ${(u1 - u0).toFixed(2)} sys ${(s1 - s0).toFixed(2)}`);
        }
      }
    }
  } finally {
    await source.stop();
    await target.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
