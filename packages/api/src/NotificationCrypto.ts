/**
 * Decrypting the resource data of a change notification (Graph: "Set up change notifications that
 * include resource data", "Decrypting resource data"). The signature is checked before `data` is
 * decrypted; a notification that fails any step is refused with a `NotificationError`.
 *
 * ```ts
 * const keys = [{ id: cert.id, privateKey: cert.privateKey }] // old keys too during rotation
 * const artifact = yield* decryptArtifact(notification, keys)  // { kind: "recordings", item: CallRecording }
 * ```
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { CallRecording } from "./CallRecording.js"
import { CallTranscript } from "./CallTranscript.js"
import { artifactOf, type ChangeNotification, type EncryptedContent } from "./ChangeNotification.js"
import type { NotificationError } from "./NotificationError.js"
import { fail, verifyAndDecrypt } from "./internal/notificationCrypto.js"

/** A private key that decrypts notifications for the certificate we gave Graph under `id`. */
export interface NotificationKey {
  /** The subscription's `encryptionCertificateId`. */
  readonly id: string
  /** PEM (PKCS#8 or PKCS#1) RSA private key. */
  readonly privateKey: Redacted.Redacted<string>
}

/**
 * The decrypted text (JSON) of `content`, after checking its signature. The key is chosen by
 * `content.encryptionCertificateId` among `keys` (several during a rotation).
 */
export const decryptContent = (
  content: EncryptedContent,
  keys: ReadonlyArray<NotificationKey>,
  subscriptionId: string | null = null
): Effect.Effect<string, NotificationError> => Effect.suspend(() => verifyAndDecrypt(content, keys, subscriptionId))

/** A recording or a transcript, decrypted from a notification. */
export type DecryptedArtifact =
  | { readonly kind: "recordings"; readonly item: CallRecording }
  | { readonly kind: "transcripts"; readonly item: CallTranscript }

const decodeRecording = Schema.decodeUnknownEither(Schema.parseJson(CallRecording))
const decodeTranscript = Schema.decodeUnknownEither(Schema.parseJson(CallTranscript))

/** recordings/transcripts from `resourceData["@odata.type"]` (`#Microsoft.Graph.callRecording`), else the resource path. */
const kindOf = (n: ChangeNotification): DecryptedArtifact["kind"] | null => {
  const type = n.resourceData?.["@odata.type"]?.toLowerCase()
  if (type?.endsWith("callrecording")) return "recordings"
  if (type?.endsWith("calltranscript")) return "transcripts"
  return artifactOf(n)?.kind ?? null
}

const decodeItem = (
  kind: DecryptedArtifact["kind"],
  text: string,
  subscriptionId: string
): Either.Either<DecryptedArtifact, NotificationError> => {
  const decoded = kind === "recordings"
    ? Either.map(decodeRecording(text), (item): DecryptedArtifact => ({ kind, item }))
    : Either.map(decodeTranscript(text), (item): DecryptedArtifact => ({ kind: "transcripts", item }))
  return Either.isRight(decoded) ? Either.right(decoded.right) : fail(
    "payload",
    `the decrypted ${kind === "recordings" ? "callRecording" : "callTranscript"} does not have the expected shape: ${
      ParseResult.TreeFormatter.formatErrorSync(decoded.left).slice(0, 300)
    }`,
    subscriptionId
  )
}

/**
 * The recording or transcript inside a notification's `encryptedContent`, verified and decrypted
 * (`createdDateTime` may be null and `@odata.type` absent in it, as Graph sends them).
 */
export const decryptArtifact = (
  notification: ChangeNotification,
  keys: ReadonlyArray<NotificationKey>
): Effect.Effect<DecryptedArtifact, NotificationError> =>
  Effect.suspend(() => {
    const sub = notification.subscriptionId
    const content = notification.encryptedContent
    if (content === undefined || content === null) {
      return fail(
        "payload",
        "the notification has no encryptedContent (was the subscription made with includeResourceData?)",
        sub
      )
    }
    const kind = kindOf(notification)
    if (kind === null) {
      return fail("payload", "the notification names neither a callRecording nor a callTranscript", sub)
    }
    return Either.flatMap(verifyAndDecrypt(content, keys, sub), (text) => decodeItem(kind, text, sub))
  })
