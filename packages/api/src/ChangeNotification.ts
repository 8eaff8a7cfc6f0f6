/**
 * What Graph POSTs to a notification URL: a `changeNotificationCollection` of `changeNotification`s
 * (Graph: changeNotificationCollection, changeNotification, resourceData, changeNotificationEncryptedContent
 * resource types; "Reduce missing subscriptions and change notifications" for lifecycle notifications).
 *
 * Decoding is lenient where Graph is: unknown fields are ignored, and the encrypted content is read from
 * `encryptedContent` or `EncryptedContent` (Graph's recording/transcript notification example spells it
 * with a capital E). Nothing here is trusted: check `clientState`, the validation tokens
 * (`ValidationTokens`) and the signature (`NotificationCrypto`) before acting on a notification.
 */
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { timingSafeEqual } from "node:crypto"

/** `changeNotificationEncryptedContent`: all base64 but the certificate id and thumbprint. */
export const EncryptedContent = Schema.Struct({
  data: Schema.String,
  dataKey: Schema.String,
  /** HMAC-SHA256 of the decoded `data` under the unwrapped key. Absent means the content cannot be verified. */
  dataSignature: Schema.optional(Schema.NullOr(Schema.String)),
  encryptionCertificateId: Schema.String,
  encryptionCertificateThumbprint: Schema.optional(Schema.NullOr(Schema.String))
})
export type EncryptedContent = typeof EncryptedContent.Type

/** `resourceData`: the id and type of the changed item (the item itself is in `encryptedContent`). */
export const ResourceData = Schema.Struct({
  id: Schema.optional(Schema.NullOr(Schema.String)),
  "@odata.type": Schema.optional(Schema.NullOr(Schema.String)),
  "@odata.id": Schema.optional(Schema.NullOr(Schema.String)),
  "@odata.etag": Schema.optional(Schema.NullOr(Schema.String))
})
export type ResourceData = typeof ResourceData.Type

/** Lifecycle events Graph sends to a `lifecycleNotificationUrl`; others may come and are passed on as strings. */
export const LifecycleEvent = Schema.Literal("subscriptionRemoved", "missed", "reauthorizationRequired")
export type LifecycleEvent = typeof LifecycleEvent.Type

const fields = {
  subscriptionId: Schema.String,
  subscriptionExpirationDateTime: Schema.optional(Schema.NullOr(Schema.String)),
  tenantId: Schema.optional(Schema.NullOr(Schema.String)),
  /** The subscription's clientState, echoed; compare with `clientStateMatches`. */
  clientState: Schema.optional(Schema.NullOr(Schema.Redacted(Schema.String))),
  /** Present (only) on lifecycle notifications. */
  lifecycleEvent: Schema.optional(Schema.NullOr(Schema.String)),
  id: Schema.optional(Schema.NullOr(Schema.String)),
  changeType: Schema.optional(Schema.NullOr(Schema.String)),
  /** e.g. `communications/onlineMeetings('{meetingId}')/recordings('{recordingId}')`; see `artifactOf`. */
  resource: Schema.optional(Schema.NullOr(Schema.String)),
  resourceData: Schema.optional(Schema.NullOr(ResourceData))
}

const RawChangeNotification = Schema.Struct({
  ...fields,
  encryptedContent: Schema.optional(Schema.NullOr(EncryptedContent)),
  EncryptedContent: Schema.optional(Schema.NullOr(EncryptedContent))
})

const ChangeNotificationFields = Schema.Struct({
  ...fields,
  encryptedContent: Schema.optional(Schema.NullOr(EncryptedContent))
})

/** One `changeNotification` (a change, or a lifecycle notification when `lifecycleEvent` is set). */
export const ChangeNotification = Schema.transform(RawChangeNotification, Schema.typeSchema(ChangeNotificationFields), {
  strict: true,
  decode: ({ EncryptedContent, encryptedContent, ...rest }) => {
    const content = encryptedContent ?? EncryptedContent
    return content === undefined ? rest : { ...rest, encryptedContent: content }
  },
  encode: (n) => n
})
export type ChangeNotification = typeof ChangeNotification.Type

/** The body of a notification POST. */
export const ChangeNotificationCollection = Schema.Struct({
  value: Schema.Array(ChangeNotification),
  /** One JWT per app and tenant with items in `value`; present when resource data is included. */
  validationTokens: Schema.optional(Schema.NullOr(Schema.Array(Schema.String)))
})
export type ChangeNotificationCollection = typeof ChangeNotificationCollection.Type

/** Decodes a notification POST body (already parsed JSON). */
export const decodeChangeNotificationCollection = Schema.decodeUnknown(ChangeNotificationCollection)

/** A lifecycle notification: a `ChangeNotification` with its `lifecycleEvent`. */
export const isLifecycleNotification = (
  n: ChangeNotification
): n is ChangeNotification & { readonly lifecycleEvent: string } =>
  typeof n.lifecycleEvent === "string" && n.lifecycleEvent.length > 0

/** Whether the notification carries the clientState we subscribed with (constant-time comparison). */
export const clientStateMatches = (n: ChangeNotification, expected: Redacted.Redacted<string>): boolean => {
  if (n.clientState === undefined || n.clientState === null) return false
  const got = Buffer.from(Redacted.value(n.clientState), "utf8")
  const want = Buffer.from(Redacted.value(expected), "utf8")
  return got.length === want.length && timingSafeEqual(got, want)
}

/** Which artifact a notification is about, read from its `resource` (or `resourceData["@odata.id"]`). */
export interface NotifiedArtifact {
  readonly kind: "recordings" | "transcripts"
  /** The online meeting's id, or `{ adhocCallId }` for an ad hoc call (a `GraphUrl.CallRef`). */
  readonly call: { readonly meetingId: string } | { readonly adhocCallId: string }
  readonly id: string
}

const RESOURCE_PATH =
  /^\/?(?:communications\/|users\/[^/]+\/|users\('[^']*'\)\/)?(onlineMeetings|adhocCalls)(?:\('((?:[^']|'')*)'\)|\/([^/]+))\/(recordings|transcripts)(?:\('((?:[^']|'')*)'\)|\/([^/]+))$/

const unquote = (quoted: string | undefined, plain: string | undefined): string | null => {
  if (quoted !== undefined) return quoted.replace(/''/g, "'")
  if (plain === undefined) return null
  try {
    return decodeURIComponent(plain)
  } catch {
    return null
  }
}

/**
 * The artifact a change notification names, e.g. from
 * `communications/onlineMeetings('MSo5...')/transcripts('MSMjMCMj...')` (Graph's example), or the
 * slash form `communications/onlineMeetings/{id}/recordings/{id}`. Null when neither `resource` nor
 * `resourceData["@odata.id"]` has that shape.
 */
export const artifactOf = (n: ChangeNotification): NotifiedArtifact | null => {
  for (const path of [n.resource, n.resourceData?.["@odata.id"]]) {
    if (typeof path !== "string") continue
    const m = RESOURCE_PATH.exec(path)
    if (m === null) continue
    const callId = unquote(m[2], m[3])
    const id = unquote(m[5], m[6])
    if (callId === null || id === null || callId === "" || id === "") continue
    return {
      kind: m[4] as NotifiedArtifact["kind"],
      call: m[1] === "adhocCalls" ? { adhocCallId: callId } : { meetingId: callId },
      id
    }
  }
  return null
}
