/**
 * Access tokens: JWT-shaped (HS256 over a per-emulator secret), so clients that peek at `exp` work,
 * and the emulator can check tenant, expiry and signature without storing anything.
 */
import * as NodeCrypto from "node:crypto"

export interface TokenClaims {
  readonly aud: string
  readonly iss: string
  readonly tid: string
  readonly iat: number
  readonly nbf: number
  readonly exp: number
  /** user object id for delegated tokens (`/me` resolves to it); absent for app-only tokens */
  readonly oid?: string
  readonly sub?: string
  readonly appid?: string
  readonly roles?: ReadonlyArray<string>
}

const b64url = (data: string | Buffer): string => Buffer.from(data).toString("base64url")

export const signToken = (secret: Buffer, claims: TokenClaims): string => {
  const header = b64url(JSON.stringify({ typ: "JWT", alg: "HS256" }))
  const payload = b64url(JSON.stringify(claims))
  const sig = NodeCrypto.createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url")
  return `${header}.${payload}.${sig}`
}

export type TokenCheck =
  | { readonly _tag: "Valid"; readonly claims: TokenClaims }
  | { readonly _tag: "Invalid"; readonly message: string }

export const verifyToken = (secret: Buffer, tenantId: string, token: string, nowMs: number): TokenCheck => {
  const parts = token.split(".")
  if (parts.length !== 3) {
    return { _tag: "Invalid", message: "IDX14100: JWT is not well formed, there are no dots (.)." }
  }
  const [header, payload, sig] = parts as [string, string, string]
  const expected = NodeCrypto.createHmac("sha256", secret).update(`${header}.${payload}`).digest()
  const given = Buffer.from(sig, "base64url")
  if (given.length !== expected.length || !NodeCrypto.timingSafeEqual(given, expected)) {
    return { _tag: "Invalid", message: "Invalid JWT token. Token signature validation failed." }
  }
  let claims: TokenClaims
  try {
    claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as TokenClaims
  } catch {
    return { _tag: "Invalid", message: "Invalid JWT token." }
  }
  if (claims.tid !== tenantId) {
    return { _tag: "Invalid", message: "Invalid JWT token. The token is for another tenant." }
  }
  const now = Math.floor(nowMs / 1000)
  if (now >= claims.exp) return { _tag: "Invalid", message: "Lifetime validation failed, the token is expired." }
  if (now < claims.nbf - 300) {
    return { _tag: "Invalid", message: "Lifetime validation failed, the token is not yet valid." }
  }
  return { _tag: "Valid", claims }
}

/** Signed, opaque, URL-safe state (skip tokens, delta tokens, redirect tickets). */
export const sealState = (secret: Buffer, state: unknown): string => {
  const body = Buffer.from(JSON.stringify(state)).toString("base64url")
  const mac = NodeCrypto.createHmac("sha256", secret).update(body).digest("base64url").slice(0, 16)
  return `${body}.${mac}`
}

export const openState = <A>(secret: Buffer, token: string): A | undefined => {
  const dot = token.lastIndexOf(".")
  if (dot < 0) return undefined
  const body = token.slice(0, dot)
  const mac = NodeCrypto.createHmac("sha256", secret).update(body).digest("base64url").slice(0, 16)
  if (mac !== token.slice(dot + 1)) return undefined
  try {
    return JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as A
  } catch {
    return undefined
  }
}
