/**
 * The encryption certificate Graph encrypts notification data with: the user's own, or one the tool
 * generates and keeps under the state directory (`<id>.json` + `<id>.key.pem`, mode 0600), replaced by a
 * new one before it expires. Older keys are kept until they expire, to decrypt notifications in flight.
 */
import { createHash, X509Certificate } from "node:crypto"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import * as selfsigned from "selfsigned"

export interface EncryptionCertificate {
  /** Our id for it (`encryptionCertificateId`). */
  readonly id: string
  /** Base64 DER (`encryptionCertificate`). */
  readonly certificate: string
  readonly privateKeyPem: string
  readonly notAfter: Date
}

/** What makes a new certificate. */
export type GenerateCertificate = (options: { readonly validityDays: number }) => Effect.Effect<
  EncryptionCertificate,
  unknown
>

/**
 * A self-signed RSA certificate for `encryptionCertificate` (Graph wants RSA, 2048-4096 bits; it only
 * encrypts the per-notification key to it, so nobody needs to trust it). node:crypto makes keys but not
 * X.509 certificates, hence `selfsigned`.
 */
export const generate: GenerateCertificate = ({ validityDays }) =>
  Effect.tryPromise(async () => {
    const pems = await selfsigned.generate([{ name: "commonName", value: "meeting-artifacts listen notifications" }], {
      keyType: "rsa",
      keySize: 2048,
      algorithm: "sha256",
      notAfterDate: new Date(Date.now() + validityDays * DAY_MS),
      extensions: [
        { name: "basicConstraints", cA: false },
        { name: "keyUsage", keyEncipherment: true, dataEncipherment: true, digitalSignature: true }
      ]
    })
    return fromPem(pems.cert, pems.private)
  })

const DAY_MS = 86_400_000

/** Generated certificates last this long; a new one is made when the newest has less than ROTATE_DAYS left. */
export const VALIDITY_DAYS = 90
export const ROTATE_DAYS = 14

/** The DER of a PEM certificate, base64 (what Graph takes), and its expiry. */
export const fromPem = (certPem: string, keyPem: string): EncryptionCertificate => {
  const x509 = new X509Certificate(certPem)
  const der = x509.raw
  return {
    // A stable id of the certificate itself: its SHA-256 thumbprint (short, within Graph's 128 characters).
    id: createHash("sha256").update(der).digest("hex").slice(0, 32),
    certificate: der.toString("base64"),
    privateKeyPem: keyPem,
    notAfter: new Date(x509.validTo)
  }
}

const readStored = (dir: string): Array<EncryptionCertificate> => {
  if (!fs.existsSync(dir)) return []
  const found: Array<EncryptionCertificate> = []
  for (const name of fs.readdirSync(dir)) {
    if (!name.endsWith(".json")) continue
    try {
      const meta = JSON.parse(fs.readFileSync(nodePath.join(dir, name), "utf8"))
      const key = fs.readFileSync(nodePath.join(dir, `${meta.id}.key.pem`), "utf8")
      found.push({ id: meta.id, certificate: meta.certificate, privateKeyPem: key, notAfter: new Date(meta.notAfter) })
    } catch {
      // A pair half written by a kill: ignored (a new one is generated).
    }
  }
  return found.sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime())
}

/** Writes the key first (0600, atomically), then the metadata that makes the pair visible. */
const store = (dir: string, cert: EncryptionCertificate): void => {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const write = (name: string, text: string, mode: number) => {
    const tmp = nodePath.join(dir, `.${name}.${process.pid}.tmp`)
    fs.writeFileSync(tmp, text, { mode })
    fs.chmodSync(tmp, mode)
    fs.renameSync(tmp, nodePath.join(dir, name))
  }
  write(`${cert.id}.key.pem`, cert.privateKeyPem, 0o600)
  write(
    `${cert.id}.json`,
    JSON.stringify({ id: cert.id, certificate: cert.certificate, notAfter: cert.notAfter.toISOString() }),
    0o600
  )
}

const remove = (dir: string, id: string): void => {
  for (const name of [`${id}.json`, `${id}.key.pem`]) fs.rmSync(nodePath.join(dir, name), { force: true })
}

export interface CertificateRing {
  /** The certificate new subscriptions get. */
  readonly current: EncryptionCertificate
  /** Every key still usable for decryption (current and older, unexpired). */
  readonly keys: ReadonlyArray<EncryptionCertificate>
}

/**
 * The certificates to use now: the user's, or the stored ones with a new one generated when none is left
 * with ROTATE_DAYS of validity; expired ones are deleted.
 */
export const load = (
  dir: string,
  given: { readonly cert: string; readonly key: string } | null,
  make: GenerateCertificate = generate,
  now: Date = new Date()
): Effect.Effect<CertificateRing, Error> =>
  Effect.gen(function*() {
    if (given !== null) {
      const cert = yield* Effect.try({
        try: () => fromPem(given.cert, given.key),
        catch: (e) => new Error(`the given certificate cannot be read: ${e instanceof Error ? e.message : String(e)}`)
      })
      return { current: cert, keys: [cert] }
    }
    const stored = yield* Effect.try({ try: () => readStored(dir), catch: (e) => e as Error })
    const live = stored.filter((c) => c.notAfter.getTime() > now.getTime())
    for (const c of stored) if (!live.includes(c)) remove(dir, c.id)
    const newest = live.at(-1)
    if (newest !== undefined && newest.notAfter.getTime() - now.getTime() > ROTATE_DAYS * DAY_MS) {
      return { current: newest, keys: live }
    }
    const fresh = yield* make({ validityDays: VALIDITY_DAYS }).pipe(
      Effect.mapError((e) => new Error(`cannot generate an encryption certificate: ${String(e)}`))
    )
    yield* Effect.try({ try: () => store(dir, fresh), catch: (e) => e as Error })
    return { current: fresh, keys: [...live, fresh] }
  })
