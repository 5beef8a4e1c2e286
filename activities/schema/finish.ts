/** Removes pgferry's bookkeeping schema from the target once the migration is complete. */
import type { Client } from 'pg';
import { resolveConnection } from '../credentials';
import { closeInBackground, openClient, WRITES_ON_READ_ONLY } from '../db';
import type { ActivityDeps, Endpoints } from '../deps';
import { guarded } from '../errors';
import { dropMarkers } from './step-marker';

export function makeDropBookkeeping(deps: ActivityDeps) {
  return async function dropBookkeeping(input: Pick<Endpoints, 'target' | 'retry'>): Promise<void> {
    const target = resolveConnection(input.target, deps.env);
    let client: Client | undefined;
    try {
      await guarded({ doing: `drop pgferry bookkeeping on target ${target.label}`, secrets: target.secrets, retry: input.retry }, async () => {
        client = await openClient(target, 'finish', WRITES_ON_READ_ONLY); // after a rollback the target is read-only
        await dropMarkers(client);
      });
    } finally {
      closeInBackground(client);
    }
  };
}
