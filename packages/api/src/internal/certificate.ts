/**
 * A self-signed X.509 certificate for `encryptionCertificate`. node:crypto cannot write certificates, so
 * @peculiar/x509 (WebCrypto based; already in the tree through the emulator's `selfsigned`) builds it,
 * loaded only when a certificate is made. Graph uses only the public key: it checks neither issuer
 * nor chain (Graph: "Managing encryption keys").
 */
import * as NodeCrypto from "node:crypto"

export interface Generated {
  readonly certificateDer: Buffer
  readonly privateKeyPem: string
}

export const generate = async (args: {
  readonly subject: string
  readonly notBefore: Date
  readonly notAfter: Date
  readonly modulusLength: number
}): Promise<Generated> => {
  const loaded = await import("@peculiar/x509")
  // bundled (the CLI's esbuild build takes the package's CommonJS file), the exports sit behind `default`
  const x509: typeof loaded = loaded.X509CertificateGenerator === undefined
    ? (loaded as unknown as { readonly default: typeof loaded }).default
    : loaded
  // the package's own Crypto type (the DOM one), which node's webcrypto implements
  const crypto = NodeCrypto.webcrypto as unknown as
    & Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1]
    & {}
  const algorithm = {
    name: "RSASSA-PKCS1-v1_5",
    hash: "SHA-256",
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: args.modulusLength
  }
  const keys = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"])
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: NodeCrypto.randomBytes(16).toString("hex").replace(/^[89a-f]/, "1"),
    name: `CN=${args.subject}`,
    notBefore: args.notBefore,
    notAfter: args.notAfter,
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      // the key is used to unwrap Graph's symmetric keys: key encipherment
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.digitalSignature, true)
    ]
  }, crypto)
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey("pkcs8", keys.privateKey))
  const privateKeyPem = NodeCrypto.createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" })
    .export({ type: "pkcs8", format: "pem" })
    .toString()
  return { certificateDer: Buffer.from(cert.rawData), privateKeyPem }
}
