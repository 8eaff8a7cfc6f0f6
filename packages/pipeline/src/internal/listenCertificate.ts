/**
 * Where the encryption certificates of `listen` live: the user's own (PEM files, never rotated), or the
 * api's generated ring (`rotateCertificates`) stored under the state directory as one JSON file of mode
 * 0600 (it holds the private keys), replaced atomically whenever the ring changes.
 */
import { type NotificationCertificate, NotificationCertificateRing, rotateCertificates } from "@meeting-artifacts/api"
import { createHash, X509Certificate } from "node:crypto"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/** Generated certificates last this long; a new one is made when the current one has ROTATE_DAYS left. */
export const VALIDITY_DAYS = 90
export const ROTATE_DAYS = 14

const RING_FILE = "certificates.json"

/** A certificate of the user's (PEM): its base64 DER, thumbprint, validity, and an id derived from it. */
export const fromPem = (certPem: string, keyPem: string): NotificationCertificate => {
  const x509 = new X509Certificate(certPem)
  const der = x509.raw
  return {
    // Stable across restarts, within Graph's 128 characters.
    id: `given-${createHash("sha256").update(der).digest("hex").slice(0, 32)}`,
    certificate: der.toString("base64"),
    privateKey: Redacted.make(keyPem),
    thumbprint: createHash("sha1").update(der).digest("hex").toUpperCase(),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo)
  }
}

const decodeRing = Schema.decodeUnknownSync(Schema.parseJson(NotificationCertificateRing))
const encodeRing = Schema.encodeSync(Schema.parseJson(NotificationCertificateRing))

const readRing = (file: string): NotificationCertificateRing | undefined => {
  if (!fs.existsSync(file)) return undefined
  return decodeRing(fs.readFileSync(file, "utf8"))
}

/** Written whole and renamed into place, mode 0600 from the start (the keys are never readable by others). */
const writeRing = (file: string, ring: NotificationCertificateRing): void => {
  fs.mkdirSync(nodePath.dirname(file), { recursive: true, mode: 0o700 })
  const tmp = `${file}.${process.pid}.tmp`
  const fd = fs.openSync(tmp, "w", 0o600)
  try {
    fs.writeSync(fd, encodeRing(ring))
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.chmodSync(tmp, 0o600)
  fs.renameSync(tmp, file)
  // The rename itself durable too: a subscription made with a new key must not outlive the key after a crash.
  const dir = fs.openSync(nodePath.dirname(file), "r")
  try {
    fs.fsyncSync(dir)
  } finally {
    fs.closeSync(dir)
  }
}

/**
 * The certificates to use now: the user's, or the stored ring rotated as due (a first certificate when
 * none is stored), saved when it changed.
 */
export const load = (
  dir: string,
  given: { readonly cert: string; readonly key: string } | null,
  now: Date = new Date()
): Effect.Effect<NotificationCertificateRing, Error> =>
  Effect.gen(function*() {
    if (given !== null) {
      const current = yield* Effect.try({
        try: () => fromPem(given.cert, given.key),
        catch: (e) => new Error(`the given certificate cannot be read: ${e instanceof Error ? e.message : String(e)}`)
      })
      return { current, retired: [] }
    }
    const file = nodePath.join(dir, RING_FILE)
    const stored = yield* Effect.try({
      try: () => readRing(file),
      catch: (e) => new Error(`${file} cannot be read: ${e instanceof Error ? e.message : String(e)}`)
    })
    const ring = yield* rotateCertificates(stored, { now, validityDays: VALIDITY_DAYS, renewBeforeDays: ROTATE_DAYS })
    if (ring !== stored) {
      yield* Effect.try({
        try: () => writeRing(file, ring),
        catch: (e) => new Error(`${file} cannot be written: ${e instanceof Error ? e.message : String(e)}`)
      })
    }
    return ring
  })
