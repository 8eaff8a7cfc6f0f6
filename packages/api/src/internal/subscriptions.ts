/**
 * Request bodies of the subscription endpoints, checked before anything is sent (a mistake here would
 * otherwise come back from Graph as a 400 after its validation request to the notification URL).
 */
import * as Redacted from "effect/Redacted"
import * as Url from "../GraphUrl.js"
import { MAX_CLIENT_STATE_LENGTH, type SubscriptionCreate } from "../Subscription.js"

/** An https URL, or http to this machine (tests, a local tunnel end); Graph itself only calls https. */
const notificationUrl = (value: string, what: string): string => {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new Url.InvalidArgument(`${what} is not an absolute URL`)
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && Url.isLoopbackHost(url.hostname))) {
    throw new Url.InvalidArgument(`${what} must be https (Graph delivers notifications over HTTPS only)`)
  }
  return value
}

const bounded = (value: string, what: string): string => {
  if (value.length === 0 || value.length > MAX_CLIENT_STATE_LENGTH) {
    throw new Url.InvalidArgument(`${what} must have 1 to ${MAX_CLIENT_STATE_LENGTH} characters`)
  }
  return value
}

const certificateFields = (certificate: string | undefined, certificateId: string | undefined) => {
  if (certificate === undefined || certificateId === undefined) {
    throw new Url.InvalidArgument(
      "includeResourceData needs encryptionCertificate and encryptionCertificateId (Graph encrypts resource data with that certificate's key)"
    )
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(certificate)) {
    throw new Url.InvalidArgument("encryptionCertificate must be the base64 DER of an X.509 certificate")
  }
  return {
    encryptionCertificate: certificate,
    encryptionCertificateId: bounded(certificateId, "encryptionCertificateId")
  }
}

/** The JSON body of `POST /subscriptions`. */
export const createBody = (create: SubscriptionCreate): Record<string, unknown> => {
  if (create === null || typeof create !== "object") throw new Url.InvalidArgument("a subscription is required")
  if (typeof create.resource !== "string" || create.resource.length === 0) {
    throw new Url.InvalidArgument("resource must be a non-empty string (see GraphUrl.subscriptionResource)")
  }
  const body: Record<string, unknown> = {
    changeType: create.changeType ?? "created",
    notificationUrl: notificationUrl(create.notificationUrl, "notificationUrl"),
    resource: create.resource,
    expirationDateTime: Url.dateTimeLiteral(create.expirationDateTime, "expirationDateTime")
  }
  if (create.lifecycleNotificationUrl !== undefined) {
    body.lifecycleNotificationUrl = notificationUrl(create.lifecycleNotificationUrl, "lifecycleNotificationUrl")
  }
  if (create.clientState !== undefined) body.clientState = bounded(Redacted.value(create.clientState), "clientState")
  if (create.includeResourceData === true) {
    body.includeResourceData = true
    Object.assign(body, certificateFields(create.encryptionCertificate, create.encryptionCertificateId))
  }
  if (create.latestSupportedTlsVersion !== undefined) body.latestSupportedTlsVersion = create.latestSupportedTlsVersion
  return body
}

/** What a renewal may change besides the expiry: a new certificate during key rotation. */
export interface RenewOptions {
  readonly encryptionCertificate?: string | undefined
  readonly encryptionCertificateId?: string | undefined
}

/** The JSON body of `PATCH /subscriptions/{id}`. */
export const renewBody = (expirationDateTime: string | Date, options?: RenewOptions): Record<string, unknown> => {
  const body: Record<string, unknown> = {
    expirationDateTime: Url.dateTimeLiteral(expirationDateTime, "expirationDateTime")
  }
  if (options?.encryptionCertificate !== undefined || options?.encryptionCertificateId !== undefined) {
    Object.assign(body, certificateFields(options.encryptionCertificate, options.encryptionCertificateId))
  }
  return body
}
