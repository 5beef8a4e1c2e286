/**
 * Step 4 of the migration, the data: every table copied under the snapshot by the copy child
 * workflow (./copy-tables.ts), in parallel lanes, then the sequences. A lost snapshot does not
 * lose finished work: the copy goes on under the next snapshot, or a new run of the data phase
 * (a new generation, a new child) copies what was not kept (./lost-snapshot.ts).
 */
import { isCancellation, patched, startChild } from '@temporalio/workflow';
import { describeConnection } from '../common/connection';
import type { SnapshotReady } from '../common/messages';
import type { RedoneWork, TableCopyResult, TableRef } from '../common/plan';
import { groupIntoUnits } from '../common/units';
import { CopiedUnits } from './copied-units';
import { copyTablesWorkflow } from './copy-tables';
import { rereadWork } from './failures';
import { followSnapshots, keepAfterLoss } from './lost-snapshot';
import { acts } from './migration-activities';
import type { MigrationRun } from './migration-run';
import type { SnapshotLease } from './snapshot-lease';

export class DataPhase {
  /** Each run of the data phase (a new one after a lost snapshot), and the snapshot it reads under. */
  private generation = 0;
  private readonly generationSnapshots = new Map<number, string>();
  /** The copies done, and under which snapshot (set when the data phase starts). */
  copies?: CopiedUnits;

  constructor(
    private readonly run: MigrationRun,
    private readonly lease: SnapshotLease,
  ) {}

  /** Whether a report comes from the current run of the data phase (not from one that was restarted). */
  isCurrent(generation: number): boolean {
    return generation === this.generation;
  }

  /** The unitCopied signal of the copy workflow. */
  unitCopied(from: number, results: TableCopyResult[]): void {
    if (from !== this.generation) return; // from a data phase that was restarted
    this.run.state.recordCopied(results, Date.now());
    this.copies?.record(results, this.generationSnapshots.get(from)!);
    this.run.refreshDetails();
  }

  /** Copies every table, then the sequences; returns the snapshot the last run read under. */
  async copy(tables: TableRef[]): Promise<SnapshotReady | undefined> {
    const { run, lease } = this;
    const { spec, state, control, withSchema } = run;
    let copiedUnder: SnapshotReady | undefined;
    const units = groupIntoUnits(tables);
    const copied = (this.copies = new CopiedUnits(units));
    let lost: { snapshot: string; reread: RedoneWork } | undefined;
    await lease
      .under(
        async (s) => {
          if (lost) await keepAfterLoss(run, lease, copied, lost.snapshot, s, lost.reread);
          lost = undefined;
          this.generation += 1;
          const generation = this.generation;
          this.generationSnapshots.set(generation, s);
          copiedUnder = lease.get(s);
          const restarted = generation > 1;
          // A lost snapshot need not stop the copy: it goes on under the next one (not with large
          // objects, which validation checks against one snapshot). The patch stays: the
          // histories recorded by the code before it (dffd781, 95dc3a8) reach here without its
          // marker, and their copy children were started not switchable.
          const switchable = !state.largeObjects && patched('hot-snapshot-switch');
          const sent = control.state.copyControl();
          const copy = await startChild(copyTablesWorkflow, {
            workflowId: `${run.id}/copy-${generation}`,
            staticSummary: `copy ${tables.length} tables of ${describeConnection(spec.source)}`.slice(0, 200),
            args: [
              {
                ...run.endpoints,
                migrationId: run.id,
                generation,
                snapshot: s,
                units: copied.pending(),
                // Split tables that may hold rows not kept are emptied first (tables this migration created start empty).
                ...(restarted || !withSchema ? { emptyFirst: copied.toEmpty() } : {}),
                ...(restarted ? { keepRecordsFrom: copied.snapshots(), chunksDone: copied.chunksDone(), toFinish: copied.toFinish() } : {}),
                parallelism: spec.parallelism.tables,
                ...(switchable ? { switchable } : {}),
                checksum: spec.validation === 'checksum',
                withSchema,
                control: sent,
                indexBuild: spec.indexBuild,
                ...(state.largeObjects ? { largeObjects: state.largeObjects.batches, ...(withSchema ? { largeObjectMetadata: { keepOwnership: run.keepOwnership } } : {}) } : {}),
              },
            ],
          });
          await control.attachCopy(copy, sent);
          let copyEnded = false;
          const following = switchable ? followSnapshots(run, lease, copied, copy, s, () => copyEnded).catch(() => undefined) : undefined;
          try {
            await copy.result();
          } finally {
            copyEnded = true;
            control.detachCopy();
            await following;
          }
        },
        (snapshot, err) => (lost = { snapshot, reread: rereadWork(err) }),
      )
      .catch((err) => {
        if (!isCancellation(err)) state.markAll(['copying'], 'failed');
        throw err;
      });
    await acts.copySequences(run.endpoints);
    return copiedUnder;
  }
}
