/**
 * The shapes the emulator serves, as Graph sends them (see the doc payloads in shared/fixtures/graph).
 * A type-level test checks they fit @microsoft/microsoft-graph-types' CallRecording / CallTranscript.
 */

export interface IdentityPayload {
  readonly "@odata.type"?: string
  readonly id?: string | null
  readonly displayName?: string | null
  readonly userIdentityType?: string | null
  readonly tenantId?: string | null
}

export interface IdentitySetPayload {
  readonly application?: IdentityPayload | null
  readonly device?: IdentityPayload | null
  readonly user?: IdentityPayload | null
}

interface ArtifactPayloadBase {
  readonly id: string
  readonly meetingId: string
  /** absent on legacy artifacts */
  readonly callId?: string | null
  readonly contentCorrelationId?: string | null
  /** exactly as written in the fixture */
  readonly createdDateTime: string
  readonly endDateTime?: string | null
  readonly meetingOrganizer: IdentitySetPayload
}

export interface CallRecordingPayload extends ArtifactPayloadBase {
  readonly recordingContentUrl: string | null
}

export interface CallTranscriptPayload extends ArtifactPayloadBase {
  readonly transcriptContentUrl: string | null
}

export const callRecordingKeys = [
  "id",
  "meetingId",
  "callId",
  "contentCorrelationId",
  "createdDateTime",
  "endDateTime",
  "recordingContentUrl",
  "meetingOrganizer"
] as const satisfies ReadonlyArray<keyof CallRecordingPayload>

export const callTranscriptKeys = [
  "id",
  "meetingId",
  "callId",
  "contentCorrelationId",
  "createdDateTime",
  "endDateTime",
  "transcriptContentUrl",
  "meetingOrganizer"
] as const satisfies ReadonlyArray<keyof CallTranscriptPayload>
