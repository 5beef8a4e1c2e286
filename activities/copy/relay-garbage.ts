/**
 * Frees the COPY relay's spent socket chunks sooner.
 *
 * Every read of a source socket is a fresh 64 KiB buffer, garbage once the target socket has
 * written it. V8 frees such buffers at its next scavenge, and scavenges come with JavaScript
 * allocation, of which the relay does little: during a big copy 14-25 MiB of spent chunks
 * waited for one, a tenth of the worker's peak. A minor GC after every RELAYED_BYTES_PER_GC
 * relayed (by all copies of the worker together) frees them at a small, bounded cost. It needs
 * the worker started with --expose-gc (WORKER_NODE_FLAGS); without it nothing is done.
 */
type MinorGc = (options: { type: 'minor' }) => void;

const RELAYED_BYTES_PER_GC = 16 * 1024 * 1024;

const gc = (globalThis as { gc?: MinorGc }).gc;
let relayedSinceGc = 0;

/** Counts `bytes` relayed; collects the young generation when enough went by. */
export function relayed(bytes: number): void {
  if (!gc) return;
  relayedSinceGc += bytes;
  if (relayedSinceGc < RELAYED_BYTES_PER_GC) return;
  relayedSinceGc = 0;
  gc({ type: 'minor' });
}
