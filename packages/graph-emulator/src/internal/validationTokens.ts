/**
 * The key the emulator signs change-notification `validationTokens` with (RS256), published as a JWKS by
 * the token endpoint (`jwks_uri` of its openid-configuration), and the tokens themselves with the claims
 * Graph's "Validating the authenticity of notifications" lists.
 */
import * as NodeCrypto from "node:crypto"

/** `appid` of every validation token: the Microsoft Graph change notification publisher (Graph docs). */
export const CHANGE_NOTIFICATION_PUBLISHER_APP_ID = "0bf30f3b-4a52-48df-9a82-234910c4a086"

export interface SigningKey {
  readonly kid: string
  readonly privateKey: NodeCrypto.KeyObject
  readonly jwk: Record<string, unknown>
}

export const makeSigningKey = (): SigningKey => {
  const { privateKey, publicKey } = NodeCrypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
  const exported = publicKey.export({ format: "jwk" }) as { n: string; e: string }
  const kid = NodeCrypto.createHash("sha256").update(exported.n).digest("base64url").slice(0, 27)
  return { kid, privateKey, jwk: { kty: "RSA", use: "sig", alg: "RS256", kid, x5t: kid, n: exported.n, e: exported.e } }
}

/** A memoized key: generated (tens of ms) only when a token is signed or the JWKS is asked for. */
export const lazySigningKey = (): () => SigningKey => {
  let key: SigningKey | undefined
  return () => (key ??= makeSigningKey())
}

export const jwks = (key: SigningKey) => ({ keys: [key.jwk] })

/**
 * One token per app/tenant pair of a notification batch: `aud` is the subscribing app, `iss`/`idp` the
 * tenant's v1 issuer, `appid` the publisher; lives an hour.
 */
export const signValidationToken = (
  key: SigningKey,
  claims: { readonly audience: string; readonly tenantId: string },
  nowMs: number
): string => {
  const now = Math.floor(nowMs / 1000)
  const issuer = `https://sts.windows.net/${claims.tenantId}/`
  const header = { typ: "JWT", alg: "RS256", kid: key.kid, x5t: key.kid }
  const payload = {
    aud: claims.audience,
    iss: issuer,
    iat: now,
    nbf: now,
    exp: now + 3600,
    aio: NodeCrypto.randomBytes(24).toString("base64"),
    appid: CHANGE_NOTIFICATION_PUBLISHER_APP_ID,
    appidacr: "2",
    idp: issuer,
    tid: claims.tenantId,
    uti: NodeCrypto.randomBytes(16).toString("base64url"),
    ver: "1.0"
  }
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url")
  const input = `${b64(header)}.${b64(payload)}`
  const signature = NodeCrypto.sign("sha256", Buffer.from(input), key.privateKey).toString("base64url")
  return `${input}.${signature}`
}
