/**
 * The worker process an activity runs in, as the report names it: Temporal's own default
 * identity of a worker (`<pid>@<host>`), so it matches what the Web UI shows for the activity.
 */
import { hostname } from 'node:os';

export function workerIdentity(): string {
  return `${process.pid}@${hostname()}`;
}
