/** Connecting the CLI to Temporal: the connection settings of client/temporal-connection.ts and the task queue. */
import { Client, Connection } from '@temporalio/client';
import { loadTemporalConnection, type TemporalConnection } from './temporal-connection';
import { unreachableError } from './temporal-diagnosis';

export interface TemporalSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  connection: TemporalConnection;
}

/** Throws TemporalSettingsError when the settings cannot work (a missing certificate file...). */
export function temporalSettings(env: NodeJS.ProcessEnv = process.env, taskQueue?: string): TemporalSettings {
  const connection = loadTemporalConnection(env);
  return {
    address: connection.address,
    namespace: connection.namespace,
    taskQueue: taskQueue ?? env.PGFERRY_TASK_QUEUE ?? 'pgferry',
    connection,
  };
}

/** Throws TemporalUnreachableError, saying why, when the server cannot be reached or refuses the connection. */
export async function connectClient(settings: TemporalSettings): Promise<Client> {
  try {
    const connection = await Connection.connect({ ...settings.connection.options, connectTimeout: '10s' });
    return new Client({ connection, namespace: settings.namespace });
  } catch (err) {
    throw await unreachableError(settings.connection, err);
  }
}
