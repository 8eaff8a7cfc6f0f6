/**
 * Graph's `subscription` resource (change notifications) and what creating one takes.
 *
 * `clientState` is a shared secret between the app and Graph (every notification echoes it): it is
 * `Redacted` here, sent as plain JSON only in the request that creates the subscription.
 */
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { GraphDateTime, GraphId } from "./CallRecording.js"

export class Subscription extends Schema.Class<Subscription>("Subscription")({
  id: GraphId,
  /** Relative to the base URL, e.g. `communications/onlineMeetings/getAllRecordings`. */
  resource: Schema.String,
  expirationDateTime: GraphDateTime,
  changeType: Schema.optional(Schema.NullOr(Schema.String)),
  clientState: Schema.optional(Schema.NullOr(Schema.Redacted(Schema.String))),
  notificationUrl: Schema.optional(Schema.NullOr(Schema.String)),
  lifecycleNotificationUrl: Schema.optional(Schema.NullOr(Schema.String)),
  applicationId: Schema.optional(Schema.NullOr(Schema.String)),
  creatorId: Schema.optional(Schema.NullOr(Schema.String)),
  includeResourceData: Schema.optional(Schema.NullOr(Schema.Boolean)),
  encryptionCertificate: Schema.optional(Schema.NullOr(Schema.String)),
  encryptionCertificateId: Schema.optional(Schema.NullOr(Schema.String)),
  latestSupportedTlsVersion: Schema.optional(Schema.NullOr(Schema.String)),
  notificationUrlAppId: Schema.optional(Schema.NullOr(Schema.String)),
  notificationContentType: Schema.optional(Schema.NullOr(Schema.String))
}) {}

/**
 * Longest lifetime Graph grants a subscription to Teams recordings and transcripts: 4320 minutes (3 days),
 * the "Teams callRecording / callTranscript" rows of the subscription resource's "Maximum length of
 * subscription per resource type". Renew before then (`renewSubscription`).
 */
export const MAX_ARTIFACT_SUBSCRIPTION_MINUTES = 4320

/**
 * Above this many minutes from now, Graph refuses a recording/transcript subscription without a
 * `lifecycleNotificationUrl` ("lifecycleNotificationUrl is required ... when the expirationDateTime value
 * exceeds 1 hour").
 */
export const LIFECYCLE_URL_REQUIRED_AFTER_MINUTES = 60

/** What `createSubscription` sends (Graph: "Create subscription"). */
export interface SubscriptionCreate {
  /** From `GraphUrl.subscriptionResource`, e.g. `communications/onlineMeetings/getAllTranscripts`. */
  readonly resource: string
  /** Default `created` (the only change type recordings and transcripts notify). */
  readonly changeType?: string | undefined
  /** HTTPS (http only to a loopback host, for tests); Graph validates it before answering. */
  readonly notificationUrl: string
  readonly lifecycleNotificationUrl?: string | undefined
  readonly expirationDateTime: string | Date
  /** At most 128 characters; echoed in every notification. */
  readonly clientState?: Redacted.Redacted<string> | undefined
  /** With true, `encryptionCertificate` and `encryptionCertificateId` are required. */
  readonly includeResourceData?: boolean | undefined
  /** Base64 DER of an X.509 certificate with an RSA public key (2048-4096 bits), e.g. `NotificationCertificate`. */
  readonly encryptionCertificate?: string | undefined
  /** Our own id for that certificate (at most 128 characters); each notification names it. */
  readonly encryptionCertificateId?: string | undefined
  readonly latestSupportedTlsVersion?: string | undefined
}

/** Graph's limit for `clientState` and `encryptionCertificateId`. */
export const MAX_CLIENT_STATE_LENGTH = 128
