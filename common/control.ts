/**
 * Runtime control of a migration: the scheduled start, pause and the rate limits, as the
 * migration workflow holds them, forwards them to its child workflows and reports them.
 */
import type { RateLimit, Throttle } from './throttle';

/** Names of the migration workflow's control updates (`pgferry pause|resume|throttle`). */
export const PAUSE_UPDATE = 'pause';
export const RESUME_UPDATE = 'resume';
export const THROTTLE_UPDATE = 'throttle';
/** Asked every second by each running copy activity of its copy workflow (a query: no history). */
export const COPY_CONTROL_QUERY = 'copyControl';

/** What the control updates return and `pgferry status` shows. */
export interface ControlView {
  paused: boolean;
  /** Epoch ms of the pause. */
  pausedAt?: number;
  /** ISO 8601: the migration waits for this moment before its precheck. */
  scheduledAt?: string;
  throttle: Throttle;
}

/** What a child workflow obeys: hold still, and this limit for all its activities together. */
export interface ChildControl {
  paused: boolean;
  limit: RateLimit;
}

/**
 * What one activity obeys: hold still, and its share of the limit; and how many copy lanes
 * have nothing left to copy (their cores can help its index builds, indexBuild.workers: idle).
 */
export interface ActivityControl extends ChildControl {
  idleLanes?: number;
}
