/**
 * Copies the large objects of one batch (an oid range) from source to target, under the copy
 * snapshot, beside the tables. Bytes go piece by piece (copy-object.ts), so memory stays
 * bounded whatever an object's size.
 *
 * Idempotency lives in the target: each object's bytes commit together with its record
 * (large-object-records.ts) — small objects many to a transaction, a big one every
 * CHECKPOINT_BYTES — so a retry skips what is done, continues a big object from its last
 * commit, and never writes a byte twice into the result.
 */
import { Context } from '@temporalio/activity';
import type { Client } from 'pg';
import { LARGE_OBJECT_PROGRESS_SIGNAL, type LargeObjectBatch, type LargeObjectCopyResult, type LargeObjectProgressUpdate } from '../../common/large-objects';
import { closeQuietly, openClient } from '../db';
import { beginUnderSnapshot } from '../snapshot-transaction';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { guarded } from '../errors';
import { activityLifetime } from '../activity-lifetime';
import { CopyControlPoller } from '../copy/copy-control';
import { copyObject } from './copy-object';
import { readSizes, type ObjectSize } from './large-object-sql';
import { ensureRecordsTable, readRecords, RECORDS_TABLE, writeDoneRecords, writeRecord, type LargeObjectRecord } from './large-object-records';
import { copySmallObjects, GROUP_BYTES, GROUP_OBJECTS, SMALL_OBJECT_BYTES } from './copy-small-objects';
import { freshMetadata, metadataStatements, readMetadata, type LargeObjectMetadata } from './large-object-metadata';

export interface CopyLargeObjectsInput extends Endpoints {
  batch: LargeObjectBatch;
  snapshot: string;
  /** Hash every piece on the source (validation: checksum). */
  checksum: boolean;
  /** The migration workflow: its id keys the records, and it is told about live progress. */
  progressWorkflowId: string;
  /** The data phase's run, so that a restarted phase ignores this one's progress. */
  generation: number;
  /** Set the objects' owners, comments and grants as the source has them (types include schema). */
  metadata?: { keepOwnership: boolean };
}

/** A big object commits this often: a retry redoes at most this much of it. */
const CHECKPOINT_BYTES = 64 * 1024 * 1024;
/**
 * Small objects commit together, up to this many bytes or objects per transaction (setting an
 * object's owner, comment or grants locks it until the commit: the lock table is finite).
 */
const COMMIT_BYTES = 64 * 1024 * 1024;
const COMMIT_OBJECTS = 100;
const HEARTBEAT_MS = 1_000;
const PROGRESS_SIGNAL_MS = 15_000;

export function makeCopyLargeObjects(deps: ActivityDeps) {
  return async function copyLargeObjects(input: CopyLargeObjectsInput): Promise<LargeObjectCopyResult> {
    const { source, target, secrets } = resolveBoth(deps, input);
    const ctx = Context.current();
    const control = new CopyControlPoller(); // pause and this copy's share of the rate limits
    const started = Date.now();
    const live = { oid: 0, objects: 0, bytes: 0 };
    let lastSignal = 0;
    const signal = () => {
      lastSignal = Date.now();
      const update: LargeObjectProgressUpdate = { generation: input.generation, batchId: input.batch.id, objects: live.objects, bytes: live.bytes };
      ctx.client.workflow.getHandle(input.progressWorkflowId).signal(LARGE_OBJECT_PROGRESS_SIGNAL, update).catch(() => undefined); // display only
    };
    let src: Client | undefined;
    let tgt: Client | undefined;
    const endLifetime = activityLifetime({
      heartbeatMs: HEARTBEAT_MS,
      details: () => ({ ...live }),
      onBeat: () => {
        if (Date.now() - lastSignal >= PROGRESS_SIGNAL_MS) signal();
      },
      closeOnCancel: () => [src, tgt],
    });
    try {
      return await guarded({ doing: () => `copy large object ${live.oid || `batch ${input.batch.firstOid}-${input.batch.lastOid}`}`, secrets, retry: input.retry }, async () => {
        const { batch } = input;
        src = await openClient(source, 'large objects');
        tgt = await openClient(target, 'large objects');
        await beginUnderSnapshot(src, input.snapshot);
        await control.start();
        await ensureRecordsTable(tgt);
        const records = await readRecords(tgt, input.progressWorkflowId, batch.firstOid, batch.lastOid);
        const objects: ObjectSize[] = [];
        await readSizes(src, batch.firstOid, batch.lastOid, (page) => void objects.push(...page));
        const metadata = input.metadata && (await MetadataCopier.start(src, tgt, batch, input.metadata.keepOwnership));
        signal();

        const writer = new BatchWriter(tgt, input.progressWorkflowId);
        const inTarget = await targetObjects(tgt, batch.firstOid, batch.lastOid);
        let skipped = 0;
        let resumedBytes = 0;
        let bytes = 0;
        // Small objects the target does not have yet go in groups, many per round trip.
        let group: ObjectSize[] = [];
        let groupBytes = 0;
        const flush = async () => {
          if (!group.length) return;
          await control.gate.admit(0, groupBytes);
          const copied = await copySmallObjects(src!, tgt!, group, input.checksum);
          for (const o of copied) await metadata?.apply(o.oid);
          await writer.doneMany(input.snapshot, copied, groupBytes);
          live.bytes += groupBytes;
          group = [];
          groupBytes = 0;
        };
        await tgt.query('BEGIN');
        for (const o of objects) {
          live.oid = o.oid;
          const record = records.get(o.oid);
          const resumable = record?.snapshot === input.snapshot && record.size === o.size ? record : undefined;
          if (resumable?.done) {
            skipped += 1;
          } else if (o.size <= SMALL_OBJECT_BYTES && !inTarget.has(o.oid)) {
            group.push(o);
            groupBytes += o.size;
            if (group.length >= GROUP_OBJECTS || groupBytes >= GROUP_BYTES) await flush();
          } else {

            const from = resumable?.copied ?? 0;
            resumedBytes += from;
            const chain = await copyObject(src, tgt, { oid: o.oid, size: o.size, from, chain: resumable?.chain ?? '' }, {
              withMd5: input.checksum,
              gate: control.gate,
              onBytes: (n) => (live.bytes += n),
              checkpointBytes: CHECKPOINT_BYTES,
              checkpoint: (copied, chain) => writer.checkpoint({ oid: o.oid, snapshot: input.snapshot, size: o.size, copied, chain, done: false }),
            });
            await metadata?.apply(o.oid);
            await writer.done({ oid: o.oid, snapshot: input.snapshot, size: o.size, copied: o.size, chain, done: true }, o.size - from);
          }
          live.objects += 1;
          bytes += o.size;
        }
        await flush();
        await unlinkGone(tgt, input.progressWorkflowId, records, new Set(objects.map((o) => o.oid)));
        await tgt.query('COMMIT');
        await src.query('COMMIT');
        signal();
        return { batchId: batch.id, objects: objects.length, bytes, skipped, resumedBytes, ms: Date.now() - started };
      });
    } finally {
      endLifetime();
      control.stop();
      await closeQuietly(src);
      await closeQuietly(tgt);
    }
  };
}

/** The objects of an oid range that the target has (copied before, or its own). */
async function targetObjects(tgt: Client, firstOid: number, lastOid: number): Promise<Set<number>> {
  const { rows } = await tgt.query<{ oid: string }>('SELECT oid::int8 AS oid FROM pg_catalog.pg_largeobject_metadata WHERE oid >= $1::int8::oid AND oid <= $2::int8::oid', [firstOid, lastOid]);
  return new Set(rows.map((r) => Number(r.oid)));
}

/**
 * Objects an earlier data phase copied under an older snapshot that this snapshot no longer
 * has (unlinked on the source in between): the target must not keep them.
 */
async function unlinkGone(tgt: Client, workflowId: string, records: Map<number, LargeObjectRecord>, present: Set<number>): Promise<void> {
  const gone = [...records.keys()].filter((oid) => !present.has(oid));
  if (!gone.length) return;
  await tgt.query(
    `SELECT pg_catalog.lo_unlink(m.oid) FROM pg_catalog.pg_largeobject_metadata m WHERE m.oid::int8 = ANY($1::int8[])`,
    [gone],
  );
  await tgt.query(`DELETE FROM ${RECORDS_TABLE} WHERE workflow_id = $1 AND oid = ANY($2::int8[])`, [workflowId, gone]);
}

/** Gives each copied object the source's owner, comment and grants, in the copy's transaction. */
class MetadataCopier {
  private constructor(
    private readonly src: Client,
    private readonly tgt: Client,
    private readonly source: Map<number, LargeObjectMetadata>,
    private readonly target: Map<number, LargeObjectMetadata>,
    private readonly fresh: LargeObjectMetadata,
    private readonly keepOwnership: boolean,
  ) {}

  static async start(src: Client, tgt: Client, batch: LargeObjectBatch, keepOwnership: boolean): Promise<MetadataCopier> {
    const source = await readMetadata(src, batch.firstOid, batch.lastOid);
    const target = await readMetadata(tgt, batch.firstOid, batch.lastOid);
    return new MetadataCopier(src, tgt, source, target, await freshMetadata(tgt), keepOwnership);
  }

  async apply(oid: number): Promise<void> {
    const source = this.source.get(oid);
    if (!source) return;
    // Objects the copy has just created have the target user's defaults.
    const statements = await metadataStatements(this.src, this.tgt, oid, source, this.target.get(oid) ?? this.fresh, this.keepOwnership);
    if (statements.length) await this.tgt.query(statements.join(';\n'));
  }
}

/** Records objects in the open target transaction and commits it now and then. */
class BatchWriter {
  private bytes = 0;
  private objects = 0;
  constructor(
    private readonly tgt: Client,
    private readonly workflowId: string,
  ) {}

  /** Inside a big object: its bytes so far and its record commit together. */
  async checkpoint(record: LargeObjectRecord): Promise<void> {
    await writeRecord(this.tgt, this.workflowId, record);
    await this.commit();
  }

  async done(record: LargeObjectRecord, bytesWritten: number): Promise<void> {
    await writeRecord(this.tgt, this.workflowId, record);
    await this.counted(1, bytesWritten);
  }

  async doneMany(snapshot: string, objects: Array<{ oid: number; size: number; chain: string }>, bytesWritten: number): Promise<void> {
    await writeDoneRecords(this.tgt, this.workflowId, snapshot, objects);
    await this.counted(objects.length, bytesWritten);
  }

  private async counted(objects: number, bytes: number): Promise<void> {
    this.objects += objects;
    this.bytes += bytes;
    if (this.bytes >= COMMIT_BYTES || this.objects >= COMMIT_OBJECTS) await this.commit();
  }

  private async commit(): Promise<void> {
    await this.tgt.query('COMMIT');
    await this.tgt.query('BEGIN');
    this.bytes = 0;
    this.objects = 0;
  }
}
