/**
 * Connection references: where a database is, never how to log in to it.
 *
 * A ConnectionRef travels in workflow input and history, so it holds no password. The worker
 * turns it into a live connection (activities/connect.ts) with a password it finds itself:
 * an environment variable or file named here, PGPASSWORD, or a pgpass file.
 */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export interface ConnectionRef {
  host: string;
  port: number;
  database: string;
  user?: string;
  sslmode?: SslMode;
  sslrootcert?: string;
  sslcert?: string;
  sslkey?: string;
  /** Name of an environment variable on the worker that holds the password. */
  passwordEnv?: string;
  /** Path of a file on the worker whose first line is the password. */
  passwordFile?: string;
}

/** `user@host:port/db`: what errors, logs and the UI call a connection. */
export function describeConnection(ref: ConnectionRef): string {
  const user = ref.user ? `${ref.user}@` : '';
  return `${user}${ref.host}:${ref.port}/${ref.database}`;
}
