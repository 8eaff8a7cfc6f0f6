/**
 * Why a change notification was refused. Every reason means "do not act on it": a forged, tampered,
 * replayed or misaddressed notification, or our own key/configuration problem (the message says which).
 */
import * as Schema from "effect/Schema"

export const NotificationErrorReason = Schema.Literal(
  /** `encryptionCertificateId` names no key we hold (rotated away too early, or not ours). */
  "unknownCertificate",
  /** The `dataKey` does not unwrap with our private key (RSA-OAEP SHA-1), or is not a 256-bit key. */
  "key",
  /** `dataSignature` is absent or is not the HMAC-SHA256 of `data`: tampered, never decrypted. */
  "signature",
  /** `data` does not decrypt (AES-256-CBC, PKCS7). */
  "decrypt",
  /** The decrypted content is not the JSON of a recording/transcript, or the notification lacks a field it needs. */
  "payload",
  /** A validation token is not a well-formed RS256 JWT. */
  "tokenMalformed",
  /** A validation token's signature does not verify with the authority's key. */
  "tokenSignature",
  /** A validation token names a key (`kid`) the authority does not publish, even after fetching its keys again. */
  "tokenUnknownKey",
  /** A validation token is expired or not yet valid. */
  "tokenExpired",
  /** A validation token is not for our app (`aud`). */
  "tokenAudience",
  /** A validation token's issuer is not the authority for its tenant. */
  "tokenIssuer",
  /** A validation token is for a tenant we did not subscribe for, or no token covers a notification's tenant. */
  "tokenTenant",
  /** A validation token was not issued to Graph's change-notification publisher (`appid`/`azp`). */
  "tokenPublisher",
  /** The authority's openid-configuration or signing keys could not be fetched. */
  "signingKeys"
)
export type NotificationErrorReason = typeof NotificationErrorReason.Type

export class NotificationError extends Schema.TaggedError<NotificationError>()("NotificationError", {
  reason: NotificationErrorReason,
  /** The notification's subscription, when known. */
  subscriptionId: Schema.NullOr(Schema.String),
  /** What to check or do; never contains key material, tokens or decrypted data. */
  message: Schema.String
}) {}
