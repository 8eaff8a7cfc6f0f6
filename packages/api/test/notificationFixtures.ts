/**
 * Encrypts a resource as Graph's "Decrypting resource data" describes it, step for step, with node:crypto:
 * a fresh 256-bit key, AES-256-CBC PKCS7 with IV = the key's first 16 bytes, HMAC-SHA256 of the
 * ciphertext under that key, the key wrapped with the certificate's public key by RSA-OAEP (SHA-1).
 * Written from the doc, not from the code under test.
 */
import * as Redacted from "effect/Redacted"
import * as NodeCrypto from "node:crypto"
import type { NotificationKey } from "../src/index.js"

export interface TestKeyPair {
  readonly key: NotificationKey
  readonly publicKey: NodeCrypto.KeyObject
}

export const makeKeyPair = (id: string): TestKeyPair => {
  const { privateKey, publicKey } = NodeCrypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
  return {
    key: { id, privateKey: Redacted.make(privateKey.export({ type: "pkcs8", format: "pem" }).toString()) },
    publicKey
  }
}

export const encryptFor = (
  pair: TestKeyPair,
  resource: unknown,
  options?: { readonly symmetricKey?: Buffer }
) => {
  const symmetricKey = options?.symmetricKey ?? NodeCrypto.randomBytes(32)
  const cipher = NodeCrypto.createCipheriv("aes-256-cbc", symmetricKey, symmetricKey.subarray(0, 16))
  const data = Buffer.concat([cipher.update(JSON.stringify(resource), "utf8"), cipher.final()])
  const dataSignature = NodeCrypto.createHmac("sha256", symmetricKey).update(data).digest()
  const dataKey = NodeCrypto.publicEncrypt(
    { key: pair.publicKey, padding: NodeCrypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
    symmetricKey
  )
  return {
    content: {
      data: data.toString("base64"),
      dataSignature: dataSignature.toString("base64"),
      dataKey: dataKey.toString("base64"),
      encryptionCertificateId: pair.key.id,
      encryptionCertificateThumbprint: "07293748CC064953A3052FB978C735FB89E61C3D"
    },
    symmetricKey
  }
}
