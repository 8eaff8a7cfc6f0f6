/**
 * The `onlineMeeting` fields this project uses. Everything else is ignored.
 */
import * as Schema from "effect/Schema"
import { GraphDateTime, GraphId } from "./CallRecording.js"
import { IdentitySet } from "./IdentitySet.js"

export class MeetingParticipants extends Schema.Class<MeetingParticipants>("MeetingParticipants")({
  organizer: Schema.optional(
    Schema.NullOr(
      Schema.Struct({
        identity: Schema.optional(Schema.NullOr(IdentitySet)),
        upn: Schema.optional(Schema.NullOr(Schema.String))
      })
    )
  )
}) {}

export class OnlineMeeting extends Schema.Class<OnlineMeeting>("OnlineMeeting")({
  id: GraphId,
  subject: Schema.optional(Schema.NullOr(Schema.String)),
  joinWebUrl: Schema.optional(Schema.NullOr(Schema.String)),
  joinMeetingIdSettings: Schema.optional(Schema.NullOr(Schema.Unknown)),
  startDateTime: Schema.optional(Schema.NullOr(GraphDateTime)),
  endDateTime: Schema.optional(Schema.NullOr(GraphDateTime)),
  creationDateTime: Schema.optional(Schema.NullOr(GraphDateTime)),
  chatInfo: Schema.optional(Schema.NullOr(Schema.Struct({ threadId: Schema.optional(Schema.NullOr(Schema.String)) }))),
  participants: Schema.optional(Schema.NullOr(MeetingParticipants))
}) {}
