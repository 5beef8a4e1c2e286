/** Differing large objects: every one counted, the first few kept for the report. */
import type { LargeObjectMismatch } from '../../common/large-objects';

/** The report names this many differing objects at most. */
const KEPT = 20;

export class MismatchList {
  readonly kept: LargeObjectMismatch[] = [];
  private count = 0;

  note(mismatch: LargeObjectMismatch): void {
    this.count += 1;
    if (this.kept.length < KEPT) this.kept.push(mismatch);
  }

  get ok(): boolean {
    return this.count === 0;
  }
}
