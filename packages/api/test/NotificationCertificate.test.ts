import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as NodeCrypto from "node:crypto"
import {
  certificateKeys,
  decryptContent,
  generateNotificationCertificate,
  type NotificationCertificate,
  NotificationCertificateRing,
  rotateCertificates
} from "../src/index.js"
import { encryptFor } from "./notificationFixtures.js"

const DAY = 24 * 60 * 60 * 1000
const T0 = new Date("2026-12-05T12:00:00Z")

/** Encrypts for the certificate's public key exactly as Graph would: from the base64 DER it was given. */
const encryptForCertificate = (cert: NotificationCertificate, resource: unknown) => {
  const x509 = new NodeCrypto.X509Certificate(Buffer.from(cert.certificate, "base64"))
  return encryptFor({ key: { id: cert.id, privateKey: cert.privateKey }, publicKey: x509.publicKey }, resource).content
}

describe("notification certificates", () => {
  it.live("a self-signed RSA certificate (base64 DER) whose key decrypts what is encrypted for it", () =>
    Effect.gen(function*() {
      const cert = yield* generateNotificationCertificate({ now: T0, validityDays: 30 })
      const x509 = new NodeCrypto.X509Certificate(Buffer.from(cert.certificate, "base64"))
      expect(x509.publicKey.asymmetricKeyType).toBe("rsa")
      expect(x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048)
      expect(x509.subject).toContain("meeting-artifacts")
      expect(x509.issuer).toBe(x509.subject)
      expect(x509.verify(x509.publicKey)).toBe(true)
      expect(new Date(x509.validTo).getTime()).toBe(T0.getTime() + 30 * DAY)
      expect(x509.checkPrivateKey(NodeCrypto.createPrivateKey(Redacted.value(cert.privateKey)))).toBe(true)
      expect(cert.thumbprint).toBe(x509.fingerprint.replace(/:/g, ""))
      expect(cert.id.length).toBeLessThanOrEqual(128)
      expect(String(cert.privateKey)).not.toContain("PRIVATE KEY")
      const text = yield* decryptContent(encryptForCertificate(cert, { id: "r1" }), [{
        id: cert.id,
        privateKey: cert.privateKey
      }])
      expect(JSON.parse(text)).toEqual({ id: "r1" })
    }))

  it.live("rotation: new before the old expires, the old key kept for in-flight notifications, then dropped", () =>
    Effect.gen(function*() {
      const first = yield* rotateCertificates(undefined, { now: T0, validityDays: 30 })
      expect(first.retired).toEqual([])
      const inFlight = encryptForCertificate(first.current, { id: "sent-before-rotation" })

      // 20 days in: 10 days left, more than renewBeforeDays (7): nothing to do, the same ring back
      const same = yield* rotateCertificates(first, { now: new Date(T0.getTime() + 20 * DAY) })
      expect(same).toBe(first)

      // 24 days in: 6 days left: a new current certificate, the old one retired
      const rotatedAt = new Date(T0.getTime() + 24 * DAY)
      const second = yield* rotateCertificates(first, { now: rotatedAt, validityDays: 30 })
      expect(second.current.id).not.toBe(first.current.id)
      expect(second.current.notAfter.getTime()).toBe(rotatedAt.getTime() + 30 * DAY)
      expect(second.retired.map((r) => r.certificate.id)).toEqual([first.current.id])
      expect(certificateKeys(second).map((k) => k.id)).toEqual([second.current.id, first.current.id])
      expect(JSON.parse(yield* decryptContent(inFlight, certificateKeys(second)))).toEqual({
        id: "sent-before-rotation"
      })

      // the ring survives storage as JSON (private keys included)
      const stored = JSON.stringify(Schema.encodeSync(NotificationCertificateRing)(second))
      const loaded = Schema.decodeUnknownSync(NotificationCertificateRing)(JSON.parse(stored))
      expect(JSON.parse(yield* decryptContent(inFlight, certificateKeys(loaded)))).toEqual({
        id: "sent-before-rotation"
      })

      // kept 3 days (the longest subscription) plus a day, then dropped
      const stillKept = yield* rotateCertificates(loaded, { now: new Date(rotatedAt.getTime() + 3 * DAY) })
      expect(stillKept.retired).toHaveLength(1)
      const dropped = yield* rotateCertificates(loaded, { now: new Date(rotatedAt.getTime() + 4 * DAY + 1) })
      expect(dropped.retired).toEqual([])
      expect(dropped.current.id).toBe(second.current.id)
      const error = yield* Effect.flip(decryptContent(inFlight, certificateKeys(dropped)))
      expect(error.reason).toBe("unknownCertificate")
    }))
})
