/**
 * Keeps the worker's memory down. Measured on the benchmark (2,000 tiny tables, and 1.35 GB):
 * a worker peaked at 255-279 MiB, of which the young generations of V8's two heaps (the
 * activities' main thread, and the thread Temporal runs workflows in) and glibc's per-thread
 * malloc arenas were about 80 MiB.
 *
 * - The workflow thread allocates little: a 2 MiB semi-space costs it nothing measurable
 *   (−25 to −30 MiB). V8 reads the flag when a heap is made, so it is set here, before the
 *   Worker starts that thread, wherever the worker is started from.
 * - The main thread's semi-space and the malloc arenas can only be set when the process
 *   starts: WORKER_NODE_FLAGS and WORKER_ENV, which every launcher of this project passes
 *   (launch/worker.ts, `npm run worker`, docker-compose.yml) and the README recommends.
 *   A 4 MiB semi-space there cost the relay about 1.3 CPU-s on the 1.35 GB database; 8 MiB
 *   cost nothing measurable.
 * - `--expose-gc`: the COPY relay collects the young generation every 16 MiB it relays, so its
 *   spent socket buffers do not pile up (activities/copy/relay-garbage.ts): −16 MiB on the
 *   1.35 GB database. The worker also collects its whole heap after an activity that grew it
 *   by 8 MiB or more (heap-trim.ts).
 */
import { setFlagsFromString } from 'node:v8';

/** Node flags for the worker process: the main thread's young generation (V8's default is 16 MiB per semi-space), and gc() for the relay and heap-trim.ts. */
export const WORKER_NODE_FLAGS = ['--max-semi-space-size=8', '--expose-gc'];

/** Environment for the worker process: two malloc arenas instead of up to eight per core (−35 to −40 MiB). */
export const WORKER_ENV = { MALLOC_ARENA_MAX: '2' };

/** Must run before Worker.create: later threads' heaps get the smaller young generation. */
export function boundWorkflowThreadHeap(): void {
  setFlagsFromString('--max-semi-space-size=2');
}
