/**
 * The errors a Graph call can end in. Each carries what a user (or Microsoft
 * support) needs: HTTP status (0 when no response was received), Graph's
 * `code` and nested `innerError.code`, `request-id` and our
 * `client-request-id`, the HTTP method and route template (no ids), and a
 * message that says what to do. Messages never contain a token.
 */
import * as Schema from "effect/Schema"

const common = {
  /** HTTP status; 0 when no response was received or no request was sent. */
  status: Schema.Number,
  /** Graph's `error.code`. */
  code: Schema.NullOr(Schema.String),
  /** Graph's `error.innerError.code` (e.g. `GraphAccessToTranscriptsDisabled`). */
  innerCode: Schema.NullOr(Schema.String),
  /** Graph's `request-id` (header or innerError). */
  requestId: Schema.NullOr(Schema.String),
  /** The `client-request-id` we sent with the last attempt. */
  clientRequestId: Schema.NullOr(Schema.String),
  /** HTTP method. */
  method: Schema.String,
  /** Route template without ids, e.g. `/users/{userId}/onlineMeetings/{meetingId}/recordings`. */
  route: Schema.String,
  /** A human, actionable description. */
  message: Schema.String
}

/** 401: the token is missing, expired or for the wrong audience, and one fresh token did not help. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", common) {}

export const ForbiddenReason = Schema.Literal(
  /** 403 "No application access policy found for this app." */
  "NoApplicationAccessPolicy",
  /** 403 with innerError.code `GraphAccessToTranscriptsDisabled`. */
  "TranscriptAccessDisabled",
  /** Any other 403 (missing permission/consent, not the organizer for delegated /content, ...). */
  "Other"
)
export type ForbiddenReason = typeof ForbiddenReason.Type

/** 403, with the reason and how to fix it. */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  ...common,
  reason: ForbiddenReason
}) {}

/** 402: the metered API's evaluation quota is used up or the app has no billing set up. */
export class PaymentRequired extends Schema.TaggedError<PaymentRequired>()("PaymentRequired", common) {}

/** 404: wrong user in the path, artifact not ready yet, expired meeting, or nothing matched a lookup. */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", common) {}

/** Still throttled after the retry budget, or a wait asked for exceeds the configured cap. */
export class Throttled extends Schema.TaggedError<Throttled>()("Throttled", {
  ...common,
  /** The wait the server asked for in its last answer (ms), if any. */
  retryAfterMs: Schema.NullOr(Schema.Number),
  /** Attempts made. */
  attempts: Schema.Number
}) {}

/** 400 and other non-retryable 4xx answers, or an argument that cannot form a request (status 0). */
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", common) {}

/** 5xx answers that stayed after the retry budget. */
export class ServerError extends Schema.TaggedError<ServerError>()("ServerError", {
  ...common,
  attempts: Schema.Number
}) {}

/** A response that does not have the expected shape: which payload, which field. */
export class DecodeError extends Schema.TaggedError<DecodeError>()("DecodeError", {
  ...common,
  /** What was being decoded, e.g. `CallRecording page`. */
  payload: Schema.String,
  /** The path of the offending field, e.g. `value[3].id` (empty when the body is not JSON). */
  field: Schema.String
}) {}

/** No usable response: connection refused/reset, body cut off, DNS, too many redirects, ... after retries. */
export class TransportError extends Schema.TaggedError<TransportError>()("TransportError", {
  ...common,
  attempts: Schema.Number
}) {}

export type GraphError =
  | Unauthorized
  | Forbidden
  | PaymentRequired
  | NotFound
  | Throttled
  | BadRequest
  | ServerError
  | DecodeError
  | TransportError

/** Schema of the union, e.g. to persist or transport errors. */
export const GraphError = Schema.Union(
  Unauthorized,
  Forbidden,
  PaymentRequired,
  NotFound,
  Throttled,
  BadRequest,
  ServerError,
  DecodeError,
  TransportError
)

const tags = new Set([
  "Unauthorized",
  "Forbidden",
  "PaymentRequired",
  "NotFound",
  "Throttled",
  "BadRequest",
  "ServerError",
  "DecodeError",
  "TransportError"
])

export const isGraphError = (u: unknown): u is GraphError =>
  typeof u === "object" && u !== null && "_tag" in u && tags.has((u as { _tag: string })._tag) && "route" in u

/**
 * Whether the error concerns the whole tenant or app (stop the run) rather than
 * one item (dead-letter it and carry on): 401, 402 and a 403 for a missing
 * access policy or disabled transcript access.
 */
export const isTenantFatal = (e: GraphError): boolean =>
  e._tag === "Unauthorized" ||
  e._tag === "PaymentRequired" ||
  (e._tag === "Forbidden" && (e.reason === "NoApplicationAccessPolicy" || e.reason === "TranscriptAccessDisabled"))
