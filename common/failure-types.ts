/**
 * Every ApplicationFailure type pgferry throws or reacts to, in one place. Activities throw
 * them, workflows match them (retry policies, snapshot loss, precheck stops) and fail with
 * them, and the client reads them. The values are stored in Temporal history, so a running
 * or recorded migration depends on them: never change a value, only add new ones.
 * Workflow-safe: no imports.
 */
export const FailureType = {
  /** Connection trouble; retried for `retry.connectionMinutes`. */
  ConnectionError: 'ConnectionError',
  /** Wrong user or password: no retry can fix it. */
  AuthenticationError: 'AuthenticationError',
  /** Missing database or privileges: no retry can fix it. */
  ConfigurationError: 'ConfigurationError',
  /** The exported snapshot is gone: the data phase starts again from a new one. */
  SnapshotLost: 'SnapshotLost',
  /** Anything else from an activity; retried for `retry.otherMinutes`. */
  MigrationError: 'MigrationError',
  /** The precheck found a problem that stops the migration. */
  PrecheckFailed: 'PrecheckFailed',
  /** The change stream was told to stop applying (cutover or the end of the migration). */
  StreamClosed: 'StreamClosed',
  /** The source's schema changed so that the stream cannot apply its changes. */
  SourceSchemaChanged: 'SourceSchemaChanged',
  /** A row entered a row filter through an update that lacked its TOASTed values. */
  RowFilterIncomplete: 'RowFilterIncomplete',
  /** A change the stream cannot apply exactly to tables copied under different snapshots. */
  StreamInexact: 'StreamInexact',
  /** The copy child workflow failed. */
  CopyFailed: 'CopyFailed',
  /** Validation found tables or large objects that differ. */
  ValidationFailed: 'ValidationFailed',
  /** A cutover (of one database, or of several) failed. */
  CutoverFailed: 'CutoverFailed',
  /** The change stream ended before a cutover asked it to. */
  StreamEnded: 'StreamEnded',
  /** Some databases of a migration of several did not migrate. */
  DatabasesFailed: 'DatabasesFailed',
  /** A verification round could not run (the stream could not be held at a position). */
  VerificationFailed: 'VerificationFailed',
  /** The way back (reverse stream) could not be prepared, or a rollback could not be done. */
  WayBackFailed: 'WayBackFailed',
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];
