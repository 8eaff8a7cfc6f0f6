/**
 * Encryption of resource data in change notifications, as Graph documents it ("Set up change notifications
 * that include resource data"): a fresh 32-byte key per notification; AES-256-CBC with PKCS7 padding and
 * IV = the key's first 16 bytes; HMAC-SHA256 of the ciphertext with the same key (`dataSignature`); the key
 * wrapped with the subscriber's RSA public key, OAEP padding with SHA-1.
 */
import * as NodeCrypto from "node:crypto"

export interface EncryptedContentPayload {
  readonly data: string
  readonly dataSignature: string
  readonly dataKey: string
  readonly encryptionCertificateId: string
  readonly encryptionCertificateThumbprint: string
}

/** A subscriber's encryption certificate, parsed once when the subscription is created or updated. */
export interface EncryptionCertificate {
  readonly publicKey: NodeCrypto.KeyObject
  /** SHA-1 of the DER certificate, upper-case hex without separators (Graph's sample format) */
  readonly thumbprint: string
}

/**
 * Parses `encryptionCertificate` (base64 DER, or PEM): an X.509 certificate with an RSA key of 2048 to
 * 4096 bits (Graph's documented bounds). Returns a problem message otherwise.
 */
export const parseEncryptionCertificate = (text: string): EncryptionCertificate | string => {
  let cert: NodeCrypto.X509Certificate
  try {
    const trimmed = text.trim()
    cert = new NodeCrypto.X509Certificate(
      trimmed.startsWith("-----BEGIN") ? trimmed : Buffer.from(trimmed.replace(/\s+/g, ""), "base64")
    )
  } catch {
    return "encryptionCertificate is not a base64-encoded X.509 certificate."
  }
  const key = cert.publicKey
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
  if (key.asymmetricKeyType !== "rsa" || bits < 2048 || bits > 4096) {
    return "encryptionCertificate must hold an RSA public key of 2048 to 4096 bits."
  }
  return { publicKey: key, thumbprint: cert.fingerprint.replace(/:/g, "").toUpperCase() }
}

export const encryptResourceData = (
  json: string,
  certificate: EncryptionCertificate,
  encryptionCertificateId: string
): EncryptedContentPayload => {
  const key = NodeCrypto.randomBytes(32)
  const cipher = NodeCrypto.createCipheriv("aes-256-cbc", key, key.subarray(0, 16))
  const data = Buffer.concat([cipher.update(json, "utf8"), cipher.final()])
  const dataSignature = NodeCrypto.createHmac("sha256", key).update(data).digest("base64")
  const dataKey = NodeCrypto.publicEncrypt(
    { key: certificate.publicKey, padding: NodeCrypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
    key
  )
  return {
    data: data.toString("base64"),
    dataSignature,
    dataKey: dataKey.toString("base64"),
    encryptionCertificateId,
    encryptionCertificateThumbprint: certificate.thumbprint
  }
}
