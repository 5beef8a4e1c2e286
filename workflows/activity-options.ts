/**
 * Timeouts and retry policy per kind of activity.
 *
 * Retries are unlimited here on purpose: each activity decides when to give up, from the
 * spec's retry windows (connection trouble: `retry.connectionMinutes`, anything else:
 * `retry.otherMinutes`, both counted from the first attempt) by throwing a non-retryable
 * failure. Heartbeat timeouts are what notice a dead worker, so long activities keep them short:
 * they heartbeat every second and the worker sends each beat at once (its heartbeat throttle is
 * 1 s), so 5 s leaves 4 s for a busy event loop or a slow server, while a killed worker's work
 * (and a lost snapshot's holder) starts again elsewhere within about 6 s. With 10 s, the data
 * phase of `npm run bench:resume` lost ~10 s times its idle copy lanes per kill.
 */
const HEARTBEAT_TIMEOUT = '5 seconds';
import { ActivityCancellationType, type ActivityOptions } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';

const retry: ActivityOptions['retry'] = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  nonRetryableErrorTypes: [FailureType.AuthenticationError, FailureType.ConfigurationError, FailureType.SnapshotLost, FailureType.PrecheckFailed],
};

/** Quick catalog work: listing tables, sequences, dropping bookkeeping. */
export const short: ActivityOptions = { startToCloseTimeout: '30 minutes', retry };

/** The precheck reports problems as items; an activity error there is a bug or an outage. */
export const precheck: ActivityOptions = { startToCloseTimeout: '10 minutes', retry: { ...retry, maximumAttempts: 5 } };

/**
 * Long, heartbeating work: copies, schema steps, validation, holding the snapshot. A cancelled
 * one is waited for (the TypeScript SDK's default only requests it), so that when the workflow
 * moves on or closes, the activity has really closed its connections and released the snapshot.
 */
export const long: ActivityOptions = {
  startToCloseTimeout: '7 days',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry,
};

/**
 * The change stream: runs until cutover (its workflow restarts it now and then to keep history
 * small). A dead worker is noticed by the heartbeat timeout and the stream resumes elsewhere
 * from the position the target recorded.
 */
export const stream: ActivityOptions = {
  startToCloseTimeout: '365 days',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { ...retry, nonRetryableErrorTypes: [...(retry.nonRetryableErrorTypes ?? []), FailureType.StreamClosed, FailureType.SourceSchemaChanged] },
};
