/**
 * From an HTTP answer (status, headers, Graph error body) to a typed,
 * actionable GraphError. Branches on Graph's `code` / `innerError.code`,
 * never on the message text (the one exception, the access-policy 403, is
 * also matched on its documented message because Graph gives it no distinct code).
 */
import {
  BadRequest,
  DecodeError,
  Forbidden,
  type ForbiddenReason,
  type GraphError,
  NotFound,
  PaymentRequired,
  ServerError,
  Throttled,
  TransportError,
  Unauthorized
} from "../GraphError.js"

export interface ErrorContext {
  readonly method: string
  readonly route: string
  readonly clientRequestId: string | null
  readonly attempts: number
}

export interface GraphErrorBody {
  readonly code: string | null
  readonly innerCode: string | null
  readonly message: string | null
  readonly requestId: string | null
}

/** Parses Graph's error envelope leniently; anything unexpected yields nulls. */
export const parseErrorBody = (text: string, headerRequestId: string | null): GraphErrorBody => {
  let code: string | null = null
  let innerCode: string | null = null
  let message: string | null = null
  let requestId: string | null = headerRequestId
  try {
    const json = JSON.parse(text) as unknown
    const error = (json as { error?: unknown } | null)?.error
    if (error !== null && typeof error === "object") {
      const e = error as Record<string, unknown>
      if (typeof e.code === "string") code = e.code
      if (typeof e.message === "string") message = e.message
      const inner = (e.innerError ?? e.innererror) as Record<string, unknown> | undefined | null
      if (inner !== null && typeof inner === "object") {
        if (typeof inner.code === "string") innerCode = inner.code
        if (requestId === null && typeof inner["request-id"] === "string") requestId = inner["request-id"]
      }
    }
  } catch {
    // Not JSON (proxies, gateways): keep the text, trimmed, as the message.
    const t = text.trim()
    if (t !== "") message = t.slice(0, 300)
  }
  return { code, innerCode, message, requestId }
}

const sanitize = (
  s: string | null
): string => (s === null ? "" : s.replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/gi, "Bearer <redacted>").slice(0, 500))

const describe = (status: number, body: GraphErrorBody, ctx: ErrorContext): string => {
  const bits = [`${ctx.method} ${ctx.route} -> ${status}`]
  if (body.code) bits.push(body.code)
  if (body.innerCode && body.innerCode !== body.code) bits.push(`(${body.innerCode})`)
  const graphMessage = sanitize(body.message)
  return bits.join(" ") + (graphMessage ? `: ${graphMessage}` : "")
}

const ids = (body: GraphErrorBody, ctx: ErrorContext) =>
  ` [request-id ${body.requestId ?? "-"}, client-request-id ${ctx.clientRequestId ?? "-"}]`

const NO_POLICY_HINT =
  "The tenant admin must grant this app an application access policy for the user in the path (it can take up to 30 minutes to apply), in Teams PowerShell: " +
  "New-CsApplicationAccessPolicy -Identity MeetingArtifacts-Policy -AppIds \"<app client id>\" -Description \"meeting-artifacts\"; " +
  "then Grant-CsApplicationAccessPolicy -PolicyName MeetingArtifacts-Policy -Identity \"<user object id>\" (or -Global for the whole tenant)."

const forbiddenReason = (body: GraphErrorBody): ForbiddenReason => {
  if (body.innerCode === "GraphAccessToTranscriptsDisabled" || body.code === "GraphAccessToTranscriptsDisabled") {
    return "TranscriptAccessDisabled"
  }
  if (/application access policy/i.test(body.message ?? "")) return "NoApplicationAccessPolicy"
  return "Other"
}

/** The typed error for a final (not retried) non-2xx answer. */
export const errorFromResponse = (
  status: number,
  body: GraphErrorBody,
  ctx: ErrorContext,
  retryAfterMs: number | undefined
): GraphError => {
  const common = {
    status,
    code: body.code,
    innerCode: body.innerCode,
    requestId: body.requestId,
    clientRequestId: ctx.clientRequestId,
    method: ctx.method,
    route: ctx.route
  }
  const what = describe(status, body, ctx)
  const tail = ids(body, ctx)
  if (status === 401) {
    return new Unauthorized({
      ...common,
      message:
        `${what}. The access token was rejected even after fetching a fresh one: check the credential, the token audience (Graph) and that the app has OnlineMeetingRecording.Read.All / OnlineMeetingTranscript.Read.All consented.${tail}`
    })
  }
  if (status === 402) {
    return new PaymentRequired({
      ...common,
      message:
        `${what}. Recording/transcript content is a metered Graph API: the evaluation quota (600 minutes per month per app per tenant) is used up or the app has no Azure billing (metered API subscription) set up. Set up billing for metered Microsoft 365 APIs, then rerun.${tail}`
    })
  }
  if (status === 403) {
    const reason = forbiddenReason(body)
    const hint = reason === "NoApplicationAccessPolicy"
      ? NO_POLICY_HINT
      : reason === "TranscriptAccessDisabled"
      ? "The tenant has switched off Graph access to transcripts (GraphAccessToTranscriptsDisabled); a Teams admin must allow it for this tenant. Nothing can be exported from it until then."
      : "The app lacks a permission or consent for this resource (application: OnlineMeetingRecording.Read.All, OnlineMeetingTranscript.Read.All; ad hoc calls: CallRecordings.Read.All, CallTranscripts.Read.All; delegated /content: only the organizer)."
    return new Forbidden({ ...common, reason, message: `${what}. ${hint}${tail}` })
  }
  if (status === 404) {
    return new NotFound({
      ...common,
      message:
        `${what}. Check the user in the path; the artifact may not be ready yet or the meeting has expired (meetings expire 60 days after they end).${tail}`
    })
  }
  if (status === 429) {
    return new Throttled({
      ...common,
      retryAfterMs: retryAfterMs ?? null,
      attempts: ctx.attempts,
      message: `${what}. Still throttled after ${ctx.attempts} attempt(s)${
        retryAfterMs !== undefined ? `; the server asked to wait ${Math.ceil(retryAfterMs / 1000)} s` : ""
      }. Lower the concurrency or rate, or raise the retry caps.${tail}`
    })
  }
  if ((status === 503 || status === 504) && retryAfterMs !== undefined) {
    return new Throttled({
      ...common,
      retryAfterMs,
      attempts: ctx.attempts,
      message: `${what}. The service is busy and asked to wait ${
        Math.ceil(retryAfterMs / 1000)
      } s, beyond the retry budget after ${ctx.attempts} attempt(s).${tail}`
    })
  }
  if (status >= 500) {
    return new ServerError({
      ...common,
      attempts: ctx.attempts,
      message:
        `${what}. Graph kept failing after ${ctx.attempts} attempt(s); try again later and quote the request-id to Microsoft support if it persists.${tail}`
    })
  }
  const hint = /Invalid format/i.test(body.message ?? "")
    ? " (transcript content needs $format=text/vtt / Accept: text/vtt)"
    : /iCalUid/i.test(body.message ?? "")
    ? " (the meeting was created without a calendar event; Graph does not support its artifacts)"
    : ""
  return new BadRequest({ ...common, message: `${what}${hint}.${tail}` })
}

/** A 2xx body the client cannot use: `what` says why (after "the <payload> "). */
export const decodeError = (args: {
  readonly status: number
  readonly payload: string
  readonly field: string
  readonly what: string
  readonly ctx: Pick<ErrorContext, "method" | "route" | "clientRequestId">
  readonly requestId: string | null
}): DecodeError =>
  new DecodeError({
    status: args.status,
    code: null,
    innerCode: null,
    requestId: args.requestId,
    clientRequestId: args.ctx.clientRequestId,
    method: args.ctx.method,
    route: args.ctx.route,
    payload: args.payload,
    field: args.field,
    message: `${args.ctx.method} ${args.ctx.route}: the ${args.payload} ${args.what} [request-id ${
      args.requestId ?? "-"
    }, client-request-id ${args.ctx.clientRequestId ?? "-"}]`
  })

export const transportError = (cause: string, ctx: ErrorContext): TransportError =>
  new TransportError({
    status: 0,
    code: null,
    innerCode: null,
    requestId: null,
    clientRequestId: ctx.clientRequestId,
    method: ctx.method,
    route: ctx.route,
    attempts: ctx.attempts,
    message: `${ctx.method} ${ctx.route}: no usable response after ${ctx.attempts} attempt(s): ${sanitize(cause)}`
  })

export const invalidArgument = (message: string, method: string, route: string): BadRequest =>
  new BadRequest({
    status: 0,
    code: "InvalidArgument",
    innerCode: null,
    requestId: null,
    clientRequestId: null,
    method,
    route,
    message: `${method} ${route}: ${message}`
  })

/** A short description of a transport failure cause (never headers). */
export const describeCause = (cause: unknown): string => {
  const seen = new Set<unknown>()
  const parts: Array<string> = []
  let c: unknown = cause
  while (c !== null && c !== undefined && typeof c === "object" && !seen.has(c) && parts.length < 4) {
    seen.add(c)
    const e = c as {
      name?: unknown
      code?: unknown
      message?: unknown
      cause?: unknown
      reason?: unknown
      _tag?: unknown
    }
    const label = [
      typeof e.code === "string" ? e.code : undefined,
      typeof e.message === "string" ? e.message : undefined
    ]
      .filter(Boolean)
      .join(" ")
    if (label) parts.push(label)
    c = e.cause
  }
  if (parts.length === 0) parts.push(String(cause))
  return redactUrls(parts.join(" <- "))
}

/**
 * Replaces every URL in a text with its host: a request's URL may be pre-signed (a redirect's
 * Location) or carry paging tokens, and such text ends up in errors, logs and telemetry.
 */
export const redactUrls = (text: string): string =>
  text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s()<>"']+/gi, (url) => {
    try {
      return `<url at ${new URL(url).host}>`
    } catch {
      return "<url>"
    }
  })

/** The transport's own error behind a platform `RequestError`/`ResponseError` (its cause), or `e` itself. */
export const transportCause = (e: unknown): unknown => {
  const tag = e !== null && typeof e === "object" ? (e as { _tag?: unknown })._tag : undefined
  return (tag === "RequestError" || tag === "ResponseError") && (e as { cause?: unknown }).cause !== undefined
    ? (e as { cause: unknown }).cause
    : e
}
