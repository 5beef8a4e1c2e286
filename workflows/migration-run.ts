/**
 * What every step of the migration workflow shares: the spec and what follows from it, the
 * state shown to `pgferry status` and the Web UI, and the facts the precheck found. The steps
 * (./migration.ts and the files it names) take it as their first argument.
 */
import { getExternalWorkflowHandle, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { Endpoints } from '../activities/deps';
import { largeObjectsWanted } from '../common/large-objects';
import { replicationNames, type ReplicationNames } from '../common/replication-names';
import type { MigrationSpec } from '../common/spec';
import { unlimited } from '../common/throttle';
import { ConsoleAttributes } from './console-attributes';
import { ControlState } from './control-state';
import { databasePhaseSignal } from './messages';
import { MigrationState } from './migration-state';
import { PhaseMetric } from './phase-metric';
import { RuntimeControl } from './runtime-control';

export interface MigrationInput {
  spec: MigrationSpec;
  /** Set when this migration is one database of several (workflows/databases.ts): it reports its phases there. */
  parentId?: string;
  /** The namespace has pgferry's search attributes: keep them current (common/search-attributes.ts). */
  searchAttributes?: boolean;
}

export class MigrationRun {
  readonly id = workflowInfo().workflowId;
  readonly state = new MigrationState(Date.now());
  readonly endpoints: Endpoints;
  readonly withSchema: boolean;
  readonly withData: boolean;
  /** Large objects are decided in the spec (absent objects.largeObjects: a history from before they were copied, which copied none). */
  readonly largeObjectsChosen: boolean;
  readonly withLargeObjects: boolean;
  /** Incremental: the publication, slots and DDL capture of this migration (undefined: a full migration). */
  readonly names: ReplicationNames | undefined;
  /** pause, resume and throttle (Updates), forwarded to the child doing the work. */
  readonly control: RuntimeControl;

  // Facts learnt along the way.
  /** From the precheck: the target may own objects as the source's roles do. */
  keepOwnership = true;
  /** incremental.ddl: DDL on the source is captured and replicated (the precheck says whether it can be). */
  captureDdl = false;
  /** The publication and slots may exist on the source: they are dropped when the migration ends. */
  replicationCreated = false;
  publications: string[] = [];

  private readonly phaseMetric = new PhaseMetric();
  private readonly attributes: ConsoleAttributes;

  constructor(
    readonly spec: MigrationSpec,
    private readonly input: Omit<MigrationInput, 'spec'>,
  ) {
    this.attributes = new ConsoleAttributes(input.searchAttributes === true);
    this.state.workflowId = this.id;
    this.endpoints = { source: spec.source, target: spec.target, retry: spec.retry };
    this.withSchema = spec.types.includes('schema');
    this.withData = spec.types.includes('full');
    this.largeObjectsChosen = typeof spec.objects.largeObjects === 'boolean';
    this.withLargeObjects = this.largeObjectsChosen && largeObjectsWanted(spec);
    this.names = spec.types.includes('incremental') ? replicationNames(this.id) : undefined;
    this.control = new RuntimeControl(new ControlState(spec.throttle ?? unlimited(), spec.startAt), () => this.state.phase, () => this.refreshDetails());
    this.state.control = this.control.state;
  }

  get incremental(): boolean {
    return this.names !== undefined;
  }

  /** The Web UI's details, the phase gauge and the search attributes, after the state changed. */
  refreshDetails(): void {
    setCurrentDetails(this.state.details());
    this.phaseMetric.show(this.state.phase);
    this.attributes.update(this.state.phase, this.state.progress().percent);
  }

  /** The stream's lag, as a search attribute. */
  showLag(seconds: number): void {
    this.attributes.lag(seconds);
  }

  enter(phase: MigrationState['phase']): void {
    this.state.enter(phase, Date.now());
    this.refreshDetails();
    this.tellParent(phase);
  }

  warn(warning: string): void {
    this.state.warnings.push(warning);
  }

  private tellParent(phase: MigrationState['phase']): void {
    if (!this.input.parentId) return;
    getExternalWorkflowHandle(this.input.parentId)
      .signal(databasePhaseSignal, { workflowId: this.id, phase })
      .catch(() => undefined); // the parent only displays it
  }
}
