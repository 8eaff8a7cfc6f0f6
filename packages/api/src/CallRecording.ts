/**
 * `callRecording` as Graph serves it (v1.0 and beta).
 *
 * `callId`, `contentCorrelationId` and `endDateTime` only reached v1.0 in
 * 2024-08, so older payloads lack them. Timestamps stay the strings Graph sent
 * (7 fractional digits) so they round-trip exactly. `recordingContentUrl` is
 * unreliable and never used to build requests.
 */
import * as Schema from "effect/Schema"
import { IdentitySet } from "./IdentitySet.js"

export const GraphDateTime = Schema.String.annotations({
  identifier: "GraphDateTime",
  description: "An ISO 8601 timestamp exactly as Graph sent it (often 7 fractional digits)"
})

/** Ids longer than this are refused (real Graph ids are a few hundred characters): they end up in paths, logs and state. */
export const MAX_ID_LENGTH = 4096

/** A Graph id: a string of bounded length. */
export const GraphId = Schema.String.pipe(Schema.maxLength(MAX_ID_LENGTH)).annotations({
  identifier: "GraphId",
  message: () => `expected a Graph id: a string of at most ${MAX_ID_LENGTH} characters`
})

export class CallRecording extends Schema.Class<CallRecording>("CallRecording")({
  id: GraphId,
  meetingId: Schema.optional(Schema.NullOr(GraphId)),
  callId: Schema.optional(Schema.NullOr(Schema.String)),
  contentCorrelationId: Schema.optional(Schema.NullOr(Schema.String)),
  createdDateTime: Schema.optional(Schema.NullOr(GraphDateTime)),
  endDateTime: Schema.optional(Schema.NullOr(GraphDateTime)),
  meetingOrganizer: Schema.optional(Schema.NullOr(IdentitySet)),
  /** Legacy beta payloads. */
  meetingOrganizerId: Schema.optional(Schema.NullOr(Schema.String)),
  recordingContentUrl: Schema.optional(Schema.NullOr(Schema.String))
}) {}
