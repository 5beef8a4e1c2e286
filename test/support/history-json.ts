/**
 * Workflow histories to and from ProtoJSON (the format `temporal workflow show --output json`
 * writes), as `historyToJSON` / `historyFromJSON` of `@temporalio/common/lib/proto-utils` do.
 *
 * Those two fail in this install with "type must be a Type": npm gives @temporalio/common and
 * @temporalio/proto each its own copy of protobufjs 8 (the top-level protobufjs is 7, for
 * @grpc/proto-loader), and protojson's `instanceof Type` check, run by common's copy, rejects
 * the history type made by proto's. Here protojson comes from the copy @temporalio/proto
 * itself loads, so the check passes whichever way npm lays the packages out.
 */
import { createRequire } from 'node:module';
import type * as Proto from '@temporalio/proto';
import type * as PatchRoot from '@temporalio/proto/lib/patch-protobuf-root';

type History = Proto.temporal.api.history.v1.IHistory;

interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): History | null;
}

// Loaded with require, not import: the generated root must be the module object itself (an
// ES namespace around it, as vitest gives, has no `temporal.api...` to look types up in).
const load = createRequire(__filename);
const proto = load('@temporalio/proto') as typeof Proto;
const { patchProtobufRoot } = load('@temporalio/proto/lib/patch-protobuf-root') as typeof PatchRoot;
const protojson = createRequire(load.resolve('@temporalio/proto'))('protobufjs/ext/protojson') as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType('temporal.api.history.v1.History');

export function historyToJSON(history: History): string {
  return JSON.stringify(protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history)), null, 2);
}

/** A history from ProtoJSON (enum values in their full form, `EVENT_TYPE_WORKFLOW_EXECUTION_STARTED`; unknown fields ignored). */
export function historyFromJSON(json: unknown): History {
  const history = protojson.fromJson(historyType, json, { ignoreUnknownFields: true });
  if (!history) throw new TypeError('not a workflow history');
  return history;
}
