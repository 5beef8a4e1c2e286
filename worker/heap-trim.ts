/**
 * A full garbage collection after an activity, when the activities' heap grew by
 * HEAP_GROWTH_PER_GC or more since the last one.
 *
 * V8 lets an old generation grow to about twice what survived its last full collection before
 * it collects again. The copy units of thousands of small tables leave mostly garbage behind
 * (catalog rows, statements, results), promoted before it died: on 10,000 tables the main heap
 * grew from 48 to 71 MiB during the copy, a tenth of the worker's peak. Collecting after
 * the activity that made it keeps that growth bounded; the copies of big tables, whose relay
 * garbage dies young (relay-garbage.ts), rarely reach the threshold. V8's own knob for this
 * (`--heap-growing-percent=25`) cost the 1.35 GB database's relay 2-2.6 CPU-s: it collects
 * during the copy, this only between activities.
 *
 * Needs the worker started with --expose-gc (WORKER_NODE_FLAGS); without it nothing is done.
 */
import { getHeapStatistics } from 'node:v8';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';

export const HEAP_GROWTH_PER_GC = 8 * 1024 * 1024;

type FullGc = () => void;

/** A trimmer over a collector and a heap gauge (injected: the test drives both). */
export function heapTrimmer(gc: FullGc | undefined, usedHeap: () => number, growthPerGc = HEAP_GROWTH_PER_GC): () => boolean {
  let usedAfterGc = 0;
  return () => {
    if (!gc || usedHeap() - usedAfterGc < growthPerGc) return false;
    gc();
    usedAfterGc = usedHeap();
    return true;
  };
}

/** Collects when the heap grew past the threshold since the last collection made here. */
export const trimHeap = heapTrimmer((globalThis as { gc?: FullGc }).gc, () => getHeapStatistics().used_heap_size);

/** Runs `trim` after every activity, whether it succeeded or failed. */
export function trimAfterActivity(trim: () => unknown = trimHeap): ActivityInboundCallsInterceptor {
  return {
    async execute(input, next) {
      try {
        return await next(input);
      } finally {
        trim();
      }
    },
  };
}

const inbound = trimAfterActivity();
export const heapTrimInterceptor: ActivityInterceptorsFactory = () => ({ inbound });
