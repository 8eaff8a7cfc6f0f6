/**
 * A correlated set: at most one recording and at most one transcript of one
 * meeting, and how they were matched. This is the unit the sinks write and the
 * manifest lists.
 */
import { CallRecording, CallTranscript } from "@meeting-artifacts/api"
import * as Schema from "effect/Schema"

export const MatchKind = Schema.Literal("contentCorrelationId", "time-overlap", "none")
export type MatchKind = typeof MatchKind.Type

export class ArtifactSet extends Schema.Class<ArtifactSet>("ArtifactSet")({
  meetingId: Schema.String,
  organizerId: Schema.String,
  contentCorrelationId: Schema.NullOr(Schema.String),
  match: MatchKind,
  recording: Schema.NullOr(CallRecording),
  transcript: Schema.NullOr(CallTranscript)
}) {}
