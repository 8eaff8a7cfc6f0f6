/**
 * The decryption steps of Graph's "Decrypting resource data" in its order: choose the key by
 * `encryptionCertificateId`, unwrap `dataKey` (RSA-OAEP, SHA-1), check `dataSignature` (HMAC-SHA256 of
 * the decoded `data` under the unwrapped key, constant-time), and only then decrypt `data`
 * (AES-256-CBC, PKCS7, IV = the key's first 16 bytes).
 */
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as NodeCrypto from "node:crypto"
import type { EncryptedContent } from "../ChangeNotification.js"
import { NotificationError, type NotificationErrorReason } from "../NotificationError.js"
import type { NotificationKey } from "../NotificationCrypto.js"

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

export const fail = (
  reason: NotificationErrorReason,
  message: string,
  subscriptionId: string | null
): Either.Either<never, NotificationError> => Either.left(new NotificationError({ reason, subscriptionId, message }))

/** Strict base64 (Buffer.from ignores stray characters, which would hide a mangled field). */
export const base64 = (text: string): Buffer | null =>
  typeof text === "string" && text.length % 4 === 0 && BASE64.test(text) ? Buffer.from(text, "base64") : null

// Parsing a PEM costs more than the RSA operation for small keys: one KeyObject per key.
const keyObjects = new WeakMap<NotificationKey, NodeCrypto.KeyObject>()

const keyObjectOf = (key: NotificationKey): NodeCrypto.KeyObject => {
  let k = keyObjects.get(key)
  if (k === undefined) {
    k = NodeCrypto.createPrivateKey(Redacted.value(key.privateKey))
    keyObjects.set(key, k)
  }
  return k
}

export const findKey = (keys: ReadonlyArray<NotificationKey>, id: string): NotificationKey | undefined =>
  keys.find((k) => k.id === id)

export const unwrapKey = (key: NotificationKey, dataKey: Buffer): Buffer | null => {
  try {
    const symmetric = NodeCrypto.privateDecrypt(
      { key: keyObjectOf(key), padding: NodeCrypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
      dataKey
    )
    return symmetric.length === 32 ? symmetric : null
  } catch {
    return null
  }
}

export const signatureMatches = (symmetricKey: Buffer, data: Buffer, signature: Buffer): boolean => {
  const expected = NodeCrypto.createHmac("sha256", symmetricKey).update(data).digest()
  return signature.length === expected.length && NodeCrypto.timingSafeEqual(signature, expected)
}

export const decryptData = (symmetricKey: Buffer, data: Buffer): Buffer | null => {
  try {
    const decipher = NodeCrypto.createDecipheriv("aes-256-cbc", symmetricKey, symmetricKey.subarray(0, 16))
    return Buffer.concat([decipher.update(data), decipher.final()])
  } catch {
    return null
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** Verified and decrypted `data` as text, or why not. */
export const verifyAndDecrypt = (
  content: EncryptedContent,
  keys: ReadonlyArray<NotificationKey>,
  subscriptionId: string | null
): Either.Either<string, NotificationError> => {
  const certId = content.encryptionCertificateId
  const key = findKey(keys, certId)
  if (key === undefined) {
    return fail(
      "unknownCertificate",
      `the notification was encrypted for certificate ${
        JSON.stringify(certId).slice(0, 140)
      }, which is not one of ours (${keys.length} key(s) held); keep retired keys until no notification names them`,
      subscriptionId
    )
  }
  const wrapped = base64(content.dataKey)
  const symmetric = wrapped === null ? null : unwrapKey(key, wrapped)
  if (symmetric === null) {
    return fail(
      "key",
      `dataKey does not unwrap with the private key of certificate ${certId} (RSA-OAEP SHA-1 to a 256-bit key): not encrypted for this certificate, or damaged`,
      subscriptionId
    )
  }
  const data = base64(content.data)
  const signature = typeof content.dataSignature === "string" ? base64(content.dataSignature) : null
  if (data === null || signature === null || !signatureMatches(symmetric, data, signature)) {
    return fail(
      "signature",
      content.dataSignature === undefined || content.dataSignature === null
        ? "the notification has no dataSignature: its data cannot be verified, so it was not decrypted"
        : "dataSignature is not the HMAC-SHA256 of data: the notification was tampered with or damaged, so it was not decrypted",
      subscriptionId
    )
  }
  const plain = decryptData(symmetric, data)
  if (plain === null) {
    return fail("decrypt", "data does not decrypt with its key (AES-256-CBC, PKCS7)", subscriptionId)
  }
  try {
    return Either.right(utf8.decode(plain))
  } catch {
    return fail("payload", "the decrypted data is not UTF-8 text", subscriptionId)
  }
}
