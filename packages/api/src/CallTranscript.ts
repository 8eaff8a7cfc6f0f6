/**
 * `callTranscript` as Graph serves it: the same shape as a recording, with
 * `transcriptContentUrl` (as unreliable as `recordingContentUrl`).
 */
import * as Schema from "effect/Schema"
import { GraphDateTime, GraphId } from "./CallRecording.js"
import { IdentitySet } from "./IdentitySet.js"

export class CallTranscript extends Schema.Class<CallTranscript>("CallTranscript")({
  id: GraphId,
  meetingId: Schema.optional(Schema.NullOr(GraphId)),
  callId: Schema.optional(Schema.NullOr(Schema.String)),
  contentCorrelationId: Schema.optional(Schema.NullOr(Schema.String)),
  createdDateTime: Schema.optional(Schema.NullOr(GraphDateTime)),
  endDateTime: Schema.optional(Schema.NullOr(GraphDateTime)),
  meetingOrganizer: Schema.optional(Schema.NullOr(IdentitySet)),
  meetingOrganizerId: Schema.optional(Schema.NullOr(Schema.String)),
  transcriptContentUrl: Schema.optional(Schema.NullOr(Schema.String))
}) {}
