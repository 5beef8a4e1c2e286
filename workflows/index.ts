/** The workflows this worker runs (the bundle's entry point). */
export { migrationWorkflow } from './migration';
export { copyTablesWorkflow } from './copy-tables';
export { precheckWorkflow } from './precheck';
export { planWorkflow } from './plan';
export { streamChangesWorkflow } from './stream-changes';
export { multiDatabaseWorkflow } from './databases';
