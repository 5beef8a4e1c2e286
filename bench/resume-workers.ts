/**
 * The workers of one timed migration: several processes on one task queue (a deployment with
 * more than one worker, so the migration goes on while one is down), and a supervisor's restart
 * of a worker that was killed.
 */
import { startWorkerProcess, type WorkerProcess } from '../launch/worker';

export class WorkerPool {
  private readonly workers: WorkerProcess[] = [];

  private constructor(
    private readonly temporalAddress: string,
    readonly taskQueue: string,
  ) {}

  /** Started before the clock: a deployment keeps its workers running. */
  static async start(temporalAddress: string, taskQueue: string, count: number): Promise<WorkerPool> {
    const pool = new WorkerPool(temporalAddress, taskQueue);
    try {
      for (let i = 0; i < count; i += 1) pool.workers.push(await pool.spawn());
    } catch (err) {
      await pool.stop();
      throw err;
    }
    return pool;
  }

  has(pid: number): boolean {
    return this.workers.some((w) => w.pid === pid);
  }

  /**
   * SIGKILL, then a replacement at once, as a supervisor (systemd, Kubernetes) would start one.
   * Returns the seconds until the replacement was ready to take work.
   */
  async killAndReplace(pid: number): Promise<number> {
    const i = this.workers.findIndex((w) => w.pid === pid);
    if (i < 0) throw new Error(`worker ${pid} is not one of this run's (${this.workers.map((w) => w.pid).join(', ')})`);
    await this.workers[i].kill('SIGKILL');
    const killedAt = Date.now();
    this.workers[i] = await this.spawn();
    return (Date.now() - killedAt) / 1000;
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop().catch(() => undefined)));
  }

  private spawn(): Promise<WorkerProcess> {
    return startWorkerProcess({ temporalAddress: this.temporalAddress, taskQueue: this.taskQueue });
  }
}
