/**
 * What the migration workflow knows of its large objects: how many the listing found, what
 * each copy batch has done (live, then as its result), and the validation. Pure logic.
 */
import type { LargeObjectCopyResult, LargeObjectListing, LargeObjectProgressUpdate, LargeObjectValidation } from '../common/large-objects';
import { formatBytes } from '../common/format';
import type { LargeObjectsSummary } from '../common/plan';

export class LargeObjectProgress {
  private readonly live = new Map<number, { objects: number; bytes: number }>();
  private readonly results = new Map<number, LargeObjectCopyResult>();
  validation?: LargeObjectValidation;

  constructor(private readonly listing: LargeObjectListing) {}

  get batches() {
    return this.listing.batches;
  }

  update(u: LargeObjectProgressUpdate): void {
    if (!this.results.has(u.batchId)) this.live.set(u.batchId, { objects: u.objects, bytes: u.bytes });
  }

  record(result: LargeObjectCopyResult): void {
    this.results.set(result.batchId, result);
    this.live.delete(result.batchId);
  }

  /** The data phase starts again under a new snapshot. */
  reset(): void {
    this.live.clear();
    this.results.clear();
  }

  /** Objects the source had under the snapshot, as the finished batches counted them. */
  copiedObjects(): number {
    return [...this.results.values()].reduce((s, r) => s + r.objects, 0);
  }

  view(): LargeObjectsSummary {
    const done = [...this.results.values()];
    const busy = [...this.live.values()];
    // After the copy, the batches' own counts (read under the snapshot) replace the listing's.
    const finished = done.length === this.listing.batches.length && done.length > 0;
    return {
      objects: finished ? this.copiedObjects() : this.listing.objects,
      bytes: finished ? done.reduce((s, r) => s + r.bytes, 0) : this.listing.bytes,
      copiedObjects: done.reduce((s, r) => s + r.objects, 0) + busy.reduce((s, b) => s + b.objects, 0),
      copiedBytes: done.reduce((s, r) => s + r.bytes, 0) + busy.reduce((s, b) => s + b.bytes, 0),
      ...(this.validation ? { validation: this.validation } : {}),
    };
  }

  /** One Markdown line for the Web UI. */
  details(): string {
    const v = this.view();
    const checked = v.validation ? ` · validated (${v.validation.mode}): ${v.validation.ok ? 'equal' : `${v.validation.mismatches.length} differ`}` : '';
    return `**Large objects:** ${v.copiedObjects}/${v.objects} copied · ${formatBytes(v.copiedBytes)} of ${formatBytes(v.bytes)}${checked}`;
  }
}
