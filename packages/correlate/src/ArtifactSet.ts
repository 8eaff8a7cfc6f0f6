/**
 * A correlated set: at most one recording and at most one transcript of one
 * meeting, and how they were matched. This is the unit the sinks write and the
 * manifest lists.
 *
 * An ad hoc call (1:1, group or PSTN call: not an online meeting) makes sets too: its id is in
 * `meetingId` and `source` is "adhocCall". Meeting sets have no `source`.
 */
import { CallRecording, CallTranscript } from "@meeting-artifacts/api"
import * as Schema from "effect/Schema"

export const MatchKind = Schema.Literal("contentCorrelationId", "time-overlap", "none")
export type MatchKind = typeof MatchKind.Type

/** What owns a set's artifacts when it is not an online meeting. */
export const ArtifactSource = Schema.Literal("adhocCall")
export type ArtifactSource = typeof ArtifactSource.Type

export class ArtifactSet extends Schema.Class<ArtifactSet>("ArtifactSet")({
  meetingId: Schema.String,
  organizerId: Schema.String,
  contentCorrelationId: Schema.NullOr(Schema.String),
  match: MatchKind,
  recording: Schema.NullOr(CallRecording),
  transcript: Schema.NullOr(CallTranscript),
  source: Schema.optional(ArtifactSource)
}) {}
