/**
 * `node dist/bench/stream-cpu.js`: the worker's CPU per drained transaction, without the noise
 * of a whole change-capture run. A pgbench backlog is recorded once from a logical slot
 * (`pg_logical_slot_peek_binary_changes`, the same pgoutput messages a walsender sends), then
 * replayed several times through the stream's own parts: the replication stream's frame
 * parsing (over an in-memory socket handing out 64 KiB chunks, as the kernel does), the
 * decoder, the batch window, the netting and the target applier, which applies every batch to
 * a real target database. What is measured per round: this process's CPU (all threads, so the
 * garbage collector's helpers too) and its GC pauses, and the target cluster's CPU.
 *
 * The stream loop here is the hot path of stream-changes.ts only (no heartbeats, holds, DDL,
 * filters or throttle): a lever that pays here still has to be confirmed by `npm run bench:cdc`.
 *
 *   --scale N      pgbench scale (default 10)
 *   --seconds N    length of the recorded load (default 30)
 *   --rounds N     replays (default 5)
 */
import { EventEmitter } from 'node:events';
import { PerformanceObserver } from 'node:perf_hooks';
import type { Client } from 'pg';
import { startPostgres, type PgCluster } from '../launch/postgres';
import { BENCH_SETTINGS } from './settings';
import { buildPgbenchDatabase, runLoad } from './cdc-pgbench';
import { arg } from './bench-helpers';
import { allProcesses, postmasterPid, TICKS } from './proc-times';
import { ticksOf } from './cdc-cpu';
import type { OperationsConfig } from '../common/stream';
import { ReplicationStream } from '../activities/stream/replication-stream';
import { FrameReader } from '../activities/stream/frame-reader';
import { decodePgOutput } from '../activities/stream/pgoutput-decoder';
import { messageBytes } from '../activities/stream/pgoutput-types';
import { RelationCache } from '../activities/stream/relation-cache';
import { StreamMapping } from '../activities/stream/stream-mapping';
import { BatchWindow } from '../activities/stream/batch-window';
import { SourceTransaction } from '../activities/stream/source-transaction';
import { TargetApplier } from '../activities/stream/target-applier';
import { recordStreamStart } from '../activities/stream/stream-position';
import { parseLsn } from '../common/lsn';

const SLOT = 'stream_cpu';
const PUBLICATIONS = 'stream_cpu_rows,stream_cpu_history';
const CHUNK_BYTES = 64 * 1024;
/** What pgferry's benchmark spec replicates: pgbench_history (no key) gets only inserts and truncates. */
const OPERATIONS: OperationsConfig = {
  operations: ['insert', 'update', 'delete', 'truncate'],
  tables: { 'public.pgbench_history': { operations: ['insert', 'truncate'] } },
};

/** The recorded backlog as the socket would carry it: CopyData messages of XLogData frames, in 64 KiB chunks. */
async function recordBacklog(cluster: PgCluster, db: string, seconds: number): Promise<{ chunks: Buffer[]; transactions: number; messages: number }> {
  await cluster.query(`CREATE PUBLICATION stream_cpu_rows FOR TABLE pgbench_accounts, pgbench_branches, pgbench_tellers`, db);
  await cluster.query(`CREATE PUBLICATION stream_cpu_history FOR TABLE pgbench_history WITH (publish = 'insert, truncate')`, db);
  await cluster.query(`SELECT pg_create_logical_replication_slot('${SLOT}', 'pgoutput')`, db);
  const load = await runLoad(cluster, db, seconds);
  const rows = await cluster.query<{ lsn: string; data: Buffer }>(
    `SELECT lsn::text, data FROM pg_logical_slot_peek_binary_changes('${SLOT}', NULL, NULL, 'proto_version', '1', 'publication_names', '${PUBLICATIONS}')`,
    db,
  );
  const messages: Buffer[] = [];
  for (const { lsn, data } of rows) {
    const frame = Buffer.allocUnsafe(1 + 4 + 25 + data.length);
    frame[0] = 0x64; // CopyData
    frame.writeUInt32BE(4 + 25 + data.length, 1);
    frame[5] = 0x77; // XLogData
    frame.writeBigUInt64BE(parseLsn(lsn), 6);
    frame.writeBigUInt64BE(parseLsn(lsn), 14);
    frame.writeBigInt64BE(0n, 22);
    data.copy(frame, 30);
    messages.push(frame);
  }
  const all = Buffer.concat(messages);
  const chunks: Buffer[] = [];
  for (let at = 0; at < all.length; at += CHUNK_BYTES) chunks.push(all.subarray(at, Math.min(all.length, at + CHUNK_BYTES)));
  return { chunks, transactions: load.transactions, messages: rows.length };
}

/** A socket stand-in: hands out the recorded chunks one per read(), 'readable' on the next turn of the event loop. */
class RecordedSocket extends EventEmitter {
  private next = 0;
  constructor(private readonly chunks: Buffer[]) {
    super();
    this.on('data', () => undefined); // node-postgres' parser, as takeSocket expects
  }
  start(): void {
    // CopyBothResponse (format 0, no columns), then the frames.
    this.chunks.unshift(Buffer.from([0x57, 0, 0, 0, 7, 0, 0, 0]));
    setImmediate(() => this.emit('readable'));
  }
  read(): Buffer | null {
    if (this.next >= this.chunks.length) return null;
    const chunk = this.chunks[this.next++];
    if (this.next < this.chunks.length) setImmediate(() => this.emit('readable'));
    return chunk;
  }
  get done(): boolean {
    return this.next >= this.chunks.length;
  }
  /** A recorded backlog: the next chunk is always there, as a socket's full read-ahead (ReplicationStream.full). */
  get readableLength(): number {
    return this.done ? 0 : this.chunks[this.next].length;
  }
  readonly readableHighWaterMark = 16 * 1024;
  pause(): void {}
  resume(): void {}
  write(): boolean {
    return true;
  }
}

/** One replay: every frame through decode, batch window and applier, as the stream loop does. Returns the transactions applied. */
async function replay(chunks: Buffer[], source: Client, target: Client, round: number): Promise<number> {
  const socket = new RecordedSocket(chunks.slice());
  const stream = new ReplicationStream('START_REPLICATION (recorded)');
  stream.submit({ stream: socket as never, query: (() => undefined) as never });
  const reader = new FrameReader(stream);
  const mapping = await StreamMapping.load(source, undefined, 'error');
  const relations = new RelationCache(source, target, OPERATIONS, mapping);
  const migrationId = `stream-cpu-${round}`;
  await recordStreamStart(target, migrationId, SLOT, '0/0');
  const applier = new TargetApplier(target, migrationId, 0n);
  const window = new BatchWindow();
  const transaction = new SourceTransaction();
  let applied = 0;
  socket.start();
  for (;;) {
    if (applier.settled) await applier.settle();
    let frame = reader.take();
    if (!frame) {
      if (socket.done) break;
      await reader.wait(window.readWaitMs(Date.now(), 1000));
      frame = reader.take();
    }
    const now = Date.now();
    if (frame?.kind === 'xlogdata') {
      const message = decodePgOutput(frame.data, true, frame.at, frame.end);
      if (message.tag === 'begin') transaction.begin(message.finalLsn, 0n);
      else if (message.tag === 'commit') {
        if (transaction.commit()) window.transactionEnded(message.endLsn, now);
      } else if (message.tag === 'relation') await relations.learn(message);
      else if (message.tag === 'insert' || message.tag === 'update' || message.tag === 'delete') {
        window.batch.add(relations.table(message.relationId), message);
        window.received(messageBytes(frame));
      } else if (message.tag === 'truncate') window.batch.truncate(message.relationIds.map((id) => relations.table(id)), message.restartIdentity);
    }
    if (window.next(now, { inTransaction: transaction.open, waiting: 0, commitNow: false }) === 'commit') {
      await applier.settle();
      const { batch, transactions } = window.take();
      const position = window.endLsn;
      applier.commit(batch, position, () => (applied += transactions));
    }
  }
  if (window.holdsTransactions) {
    await applier.settle();
    const { batch, transactions } = window.take();
    applier.commit(batch, window.endLsn, () => (applied += transactions));
  }
  await applier.settle();
  return applied;
}

function clusterTicks(cluster: PgCluster): number {
  return [...ticksOf(allProcesses(), postmasterPid(cluster)).values()].reduce((a, t) => a + t, 0);
}

async function main(): Promise<void> {
  const scale = Number(arg('--scale') ?? 10);
  const seconds = Number(arg('--seconds') ?? 30);
  const rounds = Number(arg('--rounds') ?? 5);
  const cluster = await startPostgres({ name: 'bench-stream-cpu', logical: true, settings: BENCH_SETTINGS });
  try {
    console.log(`building pgbench at scale ${scale} (source and target) and recording a ${seconds} s load...`);
    await buildPgbenchDatabase(cluster, 'src', scale);
    await buildPgbenchDatabase(cluster, 'tgt', scale);
    const backlog = await recordBacklog(cluster, 'src', seconds);
    const mb = backlog.chunks.reduce((a, c) => a + c.length, 0) / 1048576;
    console.log(`recorded ${backlog.transactions} transactions, ${backlog.messages} messages, ${mb.toFixed(1)} MB of frames`);
    const source = await cluster.connect('src');
    const target = await cluster.connect('tgt');
    let gcMs = 0;
    const gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gcMs += e.duration;
    });
    gc.observe({ entryTypes: ['gc'] });
    for (let round = 1; round <= rounds; round += 1) {
      await target.query('CHECKPOINT');
      const cpu = process.cpuUsage();
      const targetBefore = clusterTicks(cluster);
      const gcBefore = gcMs;
      const started = performance.now();
      const applied = await replay(backlog.chunks, source, target, round);
      const wall = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpu);
      const workerSeconds = (used.user + used.system) / 1e6;
      const clusterSeconds = (clusterTicks(cluster) - targetBefore) / TICKS;
      const perTx = (s: number) => ((s / applied) * 1e6).toFixed(1);
      console.log(
        `round ${round}: ${applied} transactions in ${wall.toFixed(2)} s; worker CPU ${workerSeconds.toFixed(2)} s = ${perTx(workerSeconds)} µs/tx (user ${(used.user / 1e6).toFixed(2)}, system ${(used.system / 1e6).toFixed(2)}), GC pauses ${(gcMs - gcBefore).toFixed(0)} ms; target cluster ${clusterSeconds.toFixed(2)} s = ${perTx(clusterSeconds)} µs/tx`,
      );
    }
    gc.disconnect();
    await source.end();
    await target.end();
  } finally {
    await cluster.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
