/**
 * The pieces of RS256 JWT validation for Graph's `validationTokens` (Graph: "Set up change notifications
 * that include resource data", "How to validate"), as small pure functions: parse, verify the
 * signature with a JWK (node:crypto), check the claims.
 */
import * as NodeCrypto from "node:crypto"
import type { NotificationErrorReason } from "../NotificationError.js"

export interface ParsedJwt {
  readonly kid: string
  readonly header: Record<string, unknown>
  readonly claims: Record<string, unknown>
  readonly signedPart: Buffer
  readonly signature: Buffer
}

export type Problem = { readonly reason: NotificationErrorReason; readonly why: string }

const BASE64URL = /^[A-Za-z0-9_-]*$/

const jsonPart = (part: string): Record<string, unknown> | null => {
  try {
    const value = JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as unknown
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? value as Record<string, unknown>
      : null
  } catch {
    return null
  }
}

/** A compact JWS with an RS256 header and a key id, or why not (`alg: none`, HS256 and the like are refused here). */
export const parse = (token: string): ParsedJwt | Problem => {
  const parts = typeof token === "string" ? token.split(".") : []
  if (parts.length !== 3 || !parts.every((p) => p.length > 0 && BASE64URL.test(p))) {
    return { reason: "tokenMalformed", why: "not a compact JWT (three base64url parts)" }
  }
  const header = jsonPart(parts[0])
  const claims = jsonPart(parts[1])
  if (header === null || claims === null) {
    return { reason: "tokenMalformed", why: "its header or claims are not JSON objects" }
  }
  if (header.alg !== "RS256") {
    return { reason: "tokenMalformed", why: `its algorithm is ${JSON.stringify(header.alg)}, not RS256` }
  }
  if (typeof header.kid !== "string" || header.kid.length === 0) {
    return { reason: "tokenMalformed", why: "its header names no signing key (kid)" }
  }
  return {
    kid: header.kid,
    header,
    claims,
    signedPart: Buffer.from(`${parts[0]}.${parts[1]}`, "ascii"),
    signature: Buffer.from(parts[2], "base64url")
  }
}

export const isProblem = (u: ParsedJwt | Problem): u is Problem => "reason" in u

/** A signing key of a JWKS (`kty: RSA`, `use` absent or `sig`) as a public KeyObject, or null. */
export const publicKeyOf = (jwk: unknown): { readonly kid: string; readonly key: NodeCrypto.KeyObject } | null => {
  if (jwk === null || typeof jwk !== "object") return null
  const k = jwk as Record<string, unknown>
  if (k.kty !== "RSA" || typeof k.kid !== "string" || (k.use !== undefined && k.use !== "sig")) return null
  if (typeof k.n !== "string" || typeof k.e !== "string") return null
  try {
    return { kid: k.kid, key: NodeCrypto.createPublicKey({ key: { kty: "RSA", n: k.n, e: k.e }, format: "jwk" }) }
  } catch {
    return null
  }
}

export const signatureValid = (jwt: ParsedJwt, key: NodeCrypto.KeyObject): boolean => {
  try {
    return NodeCrypto.verify("RSA-SHA256", jwt.signedPart, key, jwt.signature)
  } catch {
    return false
  }
}

/** What the claims must be (all ids compared case-insensitively: GUIDs). */
export interface Expected {
  readonly audiences: ReadonlyArray<string>
  /** Issuers accepted for the token's tenant. */
  readonly issuers: ReadonlyArray<string>
  readonly publisherAppId: string
  readonly nowSeconds: number
  readonly skewSeconds: number
}

const sameId = (a: unknown, b: string): boolean => typeof a === "string" && a.toLowerCase() === b.toLowerCase()

/** The first claim that is wrong, or null. */
export const claimsProblem = (claims: Record<string, unknown>, expected: Expected): Problem | null => {
  const { nowSeconds, skewSeconds } = expected
  if (typeof claims.exp !== "number" || nowSeconds > claims.exp + skewSeconds) {
    return { reason: "tokenExpired", why: typeof claims.exp === "number" ? "it has expired" : "it has no expiry (exp)" }
  }
  if (typeof claims.nbf === "number" && nowSeconds < claims.nbf - skewSeconds) {
    return { reason: "tokenExpired", why: "it is not valid yet (nbf in the future)" }
  }
  if (!expected.audiences.some((a) => sameId(claims.aud, a))) {
    return { reason: "tokenAudience", why: `it is for audience ${JSON.stringify(claims.aud)}, not this app` }
  }
  if (typeof claims.iss !== "string" || !expected.issuers.includes(claims.iss)) {
    return { reason: "tokenIssuer", why: `its issuer ${JSON.stringify(claims.iss)} is not the tenant's authority` }
  }
  // v1 tokens name the client in appid, v2 tokens in azp; Graph's doc: it must be the change-notification publisher
  const client = claims.appid ?? claims.azp
  if (!sameId(client, expected.publisherAppId)) {
    return {
      reason: "tokenPublisher",
      why: `it was issued to app ${JSON.stringify(client)}, not to Microsoft Graph's change-notification publisher`
    }
  }
  return null
}
