/**
 * The certificate Graph encrypts resource data for (`encryptionCertificate`, `encryptionCertificateId`),
 * and its rotation (Graph: "Managing encryption keys", "Rotating keys"): a new certificate some time
 * before the current one expires, used for new subscriptions and renewals; the old private key kept
 * for a while, since notifications already encrypted for it (and subscriptions not yet renewed) still
 * name it.
 *
 * ```ts
 * let ring = yield* rotateCertificates(stored, { now: new Date() })  // persist `ring` (NotificationCertificateRing schema)
 * graph.createSubscription({ ..., encryptionCertificate: ring.current.certificate, encryptionCertificateId: ring.current.id })
 * decryptArtifact(notification, certificateKeys(ring))
 * ```
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as NodeCrypto from "node:crypto"
import { MAX_ARTIFACT_SUBSCRIPTION_MINUTES, MAX_CLIENT_STATE_LENGTH } from "./Subscription.js"
import { generate } from "./internal/certificate.js"
import type { NotificationKey } from "./NotificationCrypto.js"

export const NotificationCertificate = Schema.Struct({
  /** Our `encryptionCertificateId`: unique, at most 128 characters. */
  id: Schema.String.pipe(Schema.maxLength(MAX_CLIENT_STATE_LENGTH)),
  /** Base64 DER of the X.509 certificate (public key only): the subscription's `encryptionCertificate`. */
  certificate: Schema.String,
  /** PKCS#8 PEM; Redacted in memory, a plain string once encoded (store it as a secret). */
  privateKey: Schema.Redacted(Schema.String),
  /** Upper-case hex SHA-1 of the DER, as in a notification's `encryptionCertificateThumbprint`. */
  thumbprint: Schema.String,
  notBefore: Schema.DateFromString,
  notAfter: Schema.DateFromString
})
export type NotificationCertificate = typeof NotificationCertificate.Type

/** The certificate in use and the retired ones whose keys are still kept, with when each was retired. */
export const NotificationCertificateRing = Schema.Struct({
  current: NotificationCertificate,
  retired: Schema.Array(Schema.Struct({ certificate: NotificationCertificate, retiredAt: Schema.DateFromString }))
})
export type NotificationCertificateRing = typeof NotificationCertificateRing.Type

export interface CertificateOptions {
  /** Default now. */
  readonly now?: Date | undefined
  /** Days from `now` until the certificate expires (default 30). */
  readonly validityDays?: number | undefined
  /** RSA key size, 2048 to 4096 (Graph's range; default 2048). */
  readonly modulusLength?: number | undefined
  /** Subject common name (default `meeting-artifacts change notifications`). */
  readonly subject?: string | undefined
}

const DAY_MS = 24 * 60 * 60 * 1000

/** A new self-signed RSA certificate and its private key. A size outside 2048-4096 bits is a defect of the caller. */
export const generateNotificationCertificate = (options?: CertificateOptions): Effect.Effect<NotificationCertificate> =>
  Effect.suspend(() => {
    const now = options?.now ?? new Date()
    const modulusLength = options?.modulusLength ?? 2048
    if (!Number.isInteger(modulusLength) || modulusLength < 2048 || modulusLength > 4096) {
      return Effect.dieMessage(`modulusLength must be 2048 to 4096 bits (Graph's range); got ${modulusLength}`)
    }
    // a minute back: a clock slightly behind ours should still see it valid
    const notBefore = new Date(now.getTime() - 60_000)
    const notAfter = new Date(now.getTime() + (options?.validityDays ?? 30) * DAY_MS)
    return Effect.map(
      Effect.promise(() =>
        generate({
          subject: options?.subject ?? "meeting-artifacts change notifications",
          notBefore,
          notAfter,
          modulusLength
        })
      ),
      ({ certificateDer, privateKeyPem }): NotificationCertificate => ({
        id: `meeting-artifacts-${now.toISOString().slice(0, 10)}-${NodeCrypto.randomBytes(6).toString("hex")}`,
        certificate: certificateDer.toString("base64"),
        privateKey: Redacted.make(privateKeyPem),
        thumbprint: NodeCrypto.createHash("sha1").update(certificateDer).digest("hex").toUpperCase(),
        notBefore,
        notAfter
      })
    )
  })

export interface RotationOptions extends CertificateOptions {
  /** Rotate when the current certificate expires within this many days (default 7). */
  readonly renewBeforeDays?: number | undefined
  /**
   * How long a retired key is kept (default the longest subscription lifetime, 3 days, plus one day):
   * a subscription keeps the old certificate until its next renewal, and notifications in flight name it.
   */
  readonly keepRetiredMs?: number | undefined
}

/**
 * The ring to use now: a first certificate when there is none, a new current one when the current one
 * expires within `renewBeforeDays` (the old one retired, not dropped), and retired ones dropped once
 * kept for `keepRetiredMs`. Unchanged (the same object) when nothing is due: store it when it changed.
 */
export const rotateCertificates = (
  ring: NotificationCertificateRing | undefined,
  options?: RotationOptions
): Effect.Effect<NotificationCertificateRing> =>
  Effect.suspend(() => {
    const now = options?.now ?? new Date()
    const keepMs = options?.keepRetiredMs ?? (MAX_ARTIFACT_SUBSCRIPTION_MINUTES * 60_000 + DAY_MS)
    const renewBeforeMs = (options?.renewBeforeDays ?? 7) * DAY_MS
    if (ring === undefined) {
      return Effect.map(generateNotificationCertificate({ ...options, now }), (current) => ({ current, retired: [] }))
    }
    const kept = ring.retired.filter((r) => now.getTime() - r.retiredAt.getTime() < keepMs)
    if (ring.current.notAfter.getTime() - now.getTime() > renewBeforeMs) {
      return Effect.succeed(kept.length === ring.retired.length ? ring : { current: ring.current, retired: kept })
    }
    return Effect.map(generateNotificationCertificate({ ...options, now }), (current) => ({
      current,
      retired: [{ certificate: ring.current, retiredAt: now }, ...kept]
    }))
  })

/** Every key of the ring (current first), for `decryptArtifact`. */
export const certificateKeys = (ring: NotificationCertificateRing): ReadonlyArray<NotificationKey> => [
  { id: ring.current.id, privateKey: ring.current.privateKey },
  ...ring.retired.map((r) => ({ id: r.certificate.id, privateKey: r.certificate.privateKey }))
]
