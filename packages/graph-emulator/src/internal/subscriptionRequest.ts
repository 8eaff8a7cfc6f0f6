/**
 * What `POST /subscriptions` and `PATCH /subscriptions/{id}` accept, checked as Graph checks it: the
 * resource, URLs, expiry bounds, and the encryption certificate of subscriptions with resource data.
 */
import { lifecycleUrlRequiredAfterMinutes, maxSubscriptionMinutes } from "../Notifications.js"
import { type EncryptionCertificate, parseEncryptionCertificate } from "./notificationCrypto.js"

/** A refusal with Graph's status, code and message. */
export class SubscriptionFailure {
  constructor(readonly status: number, readonly code: string, readonly message: string) {}
}

export const invalid = (message: string) => new SubscriptionFailure(400, "InvalidRequest", message)

/** What a subscription's `resource` selects. */
export interface ResourceMatch {
  readonly kind: "recording" | "transcript"
  readonly container: "meeting" | "adhocCall"
  /** tenant-wide, one user's (organizer / caller), or one meeting's / call's */
  readonly scope: "tenant" | "user" | "owner"
  readonly id: string | undefined
}

const key = (s: string) => {
  const m = /^\('(.*)'\)$/s.exec(s) ?? /^'(.*)'$/s.exec(s)
  return m ? m[1]!.replace(/''/g, "'") : s
}

/** The resources Graph offers for recordings and transcripts (see README); undefined when unsupported. */
export const parseResource = (resource: string): ResourceMatch | undefined => {
  const path = resource.replace(/^\//, "").split("?")[0]!
  const container = (s: string) => s.toLowerCase() === "onlinemeetings" ? "meeting" as const : "adhocCall" as const
  const getAll = (s: string) => s.toLowerCase() === "getallrecordings" ? "recording" as const : "transcript" as const
  let m = /^communications\/(onlineMeetings|adhocCalls)\/(getAllRecordings|getAllTranscripts)(?:\(\))?$/i.exec(path)
  if (m) return { kind: getAll(m[2]!), container: container(m[1]!), scope: "tenant", id: undefined }
  m = /^users(?:\/([^/]+)|\(([^)]*)\))\/(onlineMeetings|adhocCalls)\/(getAllRecordings|getAllTranscripts)(?:\(\))?$/i
    .exec(path)
  if (m) {
    return { kind: getAll(m[4]!), container: container(m[3]!), scope: "user", id: key(m[1] ?? `(${m[2]})`) }
  }
  m = /^communications\/(onlineMeetings|adhocCalls)(?:\/([^/]+)|(\('.*'\)))\/(recordings|transcripts)$/i.exec(path)
  if (m) {
    return {
      kind: m[4]!.toLowerCase() === "recordings" ? "recording" : "transcript",
      container: container(m[1]!),
      scope: "owner",
      id: key(m[2] ?? m[3]!)
    }
  }
  return undefined
}

/** An optional string property of a request body (null = absent). */
export const str = (body: Record<string, unknown>, name: string): string | undefined => {
  const v = body[name]
  if (v === undefined || v === null) return undefined
  if (typeof v !== "string") throw invalid(`${name} must be a string.`)
  return v
}

/** An absolute https URL (or http when `allowHttp`). */
export const checkUrl = (url: string, name: string, allowHttp: boolean): void => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw invalid(`${name} '${url}' is not a valid URL.`)
  }
  const https = parsed.protocol === "https:"
  if (!https && !(parsed.protocol === "http:" && allowHttp)) {
    throw invalid(`${name} must use the HTTPS protocol.`)
  }
}

/** Graph's bounds: in the future, at most 4,320 minutes ahead, over an hour only with a lifecycle URL. */
export const checkExpiration = (text: string, hasLifecycleUrl: boolean): number => {
  const ms = Date.parse(text)
  if (Number.isNaN(ms)) throw invalid(`expirationDateTime '${text}' is not a valid date and time.`)
  const now = Date.now()
  if (ms <= now) throw invalid("Subscription expiration must be in the future.")
  if (ms - now > maxSubscriptionMinutes * 60_000) {
    throw invalid(`Subscription expiration can only be ${maxSubscriptionMinutes} minutes in the future.`)
  }
  if (!hasLifecycleUrl && ms - now > lifecycleUrlRequiredAfterMinutes * 60_000) {
    throw invalid(
      "lifecycleNotificationUrl is required for subscription creation on this resource when the expirationDateTime value exceeds 1 hour."
    )
  }
  return ms
}

/** With resource data: a certificate and its id are required, and the certificate must be usable. */
export const checkCertificate = (
  includeResourceData: boolean,
  certificate: string | null,
  certificateId: string | null
): EncryptionCertificate | undefined => {
  if (!includeResourceData) return undefined
  if (certificate === null) {
    throw invalid("encryptionCertificate is required when includeResourceData is true.")
  }
  if (certificateId === null) {
    throw invalid("encryptionCertificateId is required when includeResourceData is true.")
  }
  if (certificateId.length > 128) throw invalid("encryptionCertificateId must be at most 128 characters long.")
  const parsed = parseEncryptionCertificate(certificate)
  if (typeof parsed === "string") throw invalid(parsed)
  return parsed
}
