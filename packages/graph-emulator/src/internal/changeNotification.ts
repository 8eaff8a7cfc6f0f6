/**
 * The bodies Graph POSTs to subscribers (changeNotificationCollection): change notifications with
 * (encrypted) resource data, lifecycle notifications, and the validation tokens of rich subscriptions.
 */
import type { LifecycleEvent } from "../Notifications.js"
import { encryptResourceData } from "./notificationCrypto.js"
import type { ArtifactEntry } from "./state.js"
import type { SubscriptionRecord } from "./subscriptions.js"
import { type SigningKey, signValidationToken } from "./validationTokens.js"

/**
 * The decrypted resource data, as in Graph's samples: content URLs relative to the Graph root,
 * `meetingOrganizer` without `@odata.type`, a transcript's `createdDateTime` null, a recording's `content` null.
 */
export const notifiedResourceData = (entry: ArtifactEntry, tenantId: string): Record<string, unknown> => {
  const f = entry.fixture
  const adhoc = entry.container === "adhocCall"
  const what = entry.kind === "recording" ? "recordings" : "transcripts"
  const contentUrl = `communications/${
    adhoc ? "adhocCalls" : "onlineMeetings"
  }/${entry.meetingId}/${what}/${f.id}/content`
  const common = {
    id: f.id,
    ...(adhoc ? {} : { meetingId: entry.meetingId }),
    ...(f.callId !== undefined ? { callId: f.callId } : adhoc ? { callId: entry.meetingId } : {}),
    ...(f.contentCorrelationId !== undefined ? { contentCorrelationId: f.contentCorrelationId } : {}),
    ...(f.endDateTime !== undefined ? { endDateTime: f.endDateTime } : {}),
    meetingOrganizer: {
      application: null,
      device: null,
      user: { userIdentityType: "aadUser", id: entry.organizerId, displayName: null, tenantId }
    }
  }
  return entry.kind === "recording"
    ? { ...common, createdDateTime: f.createdDateTime, recordingContentUrl: contentUrl, content: null }
    : { ...common, createdDateTime: null, transcriptContentUrl: contentUrl }
}

/** A `created` change notification for `entry`; `encryptedContent` for subscriptions with resource data. */
export const changeNotification = (s: SubscriptionRecord, entry: ArtifactEntry, tenantId: string) => {
  const what = entry.kind === "recording" ? "recordings" : "transcripts"
  const owner = entry.container === "meeting" ? "onlineMeetings" : "adhocCalls"
  const resource = `communications/${owner}('${entry.meetingId}')/${what}('${entry.fixture.id}')`
  return {
    subscriptionId: s.id,
    subscriptionExpirationDateTime: new Date(s.expirationMs).toISOString(),
    changeType: "created",
    clientState: s.clientState,
    resource,
    resourceData: {
      id: entry.fixture.id,
      "@odata.type": `#Microsoft.Graph.${entry.kind === "recording" ? "callRecording" : "callTranscript"}`,
      "@odata.id": resource
    },
    ...(s.includeResourceData && s.certificate !== undefined
      ? {
        encryptedContent: encryptResourceData(
          JSON.stringify(notifiedResourceData(entry, tenantId)),
          s.certificate,
          s.encryptionCertificateId ?? ""
        )
      }
      : {}),
    tenantId
  }
}

export const lifecycleNotification = (s: SubscriptionRecord, event: LifecycleEvent, tenantId: string) => ({
  subscriptionId: s.id,
  subscriptionExpirationDateTime: new Date(s.expirationMs).toISOString(),
  tenantId,
  clientState: s.clientState,
  lifecycleEvent: event
})

/** `{ value, validationTokens }`: one token per app/tenant pair (here: one) when resource data is included. */
export const notificationCollection = (
  s: SubscriptionRecord,
  value: ReadonlyArray<unknown>,
  tenantId: string,
  signingKey: () => SigningKey
) => ({
  value,
  ...(s.includeResourceData
    ? {
      validationTokens: [
        signValidationToken(signingKey(), { audience: s.notificationUrlAppId ?? s.applicationId, tenantId }, Date.now())
      ]
    }
    : {})
})
