/**
 * The span of one Graph request, all its attempts included: `GraphClient.<endpoint>` with the
 * method, the route template, the last answer's status, Graph request-id and body size, the number
 * of attempts and the time waited before retries; each retry is an event (`graph.retry`) saying why
 * and how long it waited. Plain `Effect.withSpan`: it goes to whatever tracer the caller provides.
 * Only templates and Graph's own ids are recorded, never a URL, a header or a redirect location.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

export const RETRY_EVENT = "graph.retry"

/**
 * The tracer Effect uses when none is provided: its spans reach no exporter and nothing here reads them,
 * so with it the request loop makes none (a span costs more CPU than a small request's own work).
 */
const nativeTracer = Effect.runSync(Effect.tracer)

/**
 * `ifTraced` when spans of the current fiber go anywhere (a tracer was provided), else `otherwise`: one
 * run-loop step (these checks run for every request).
 */
const whenTraced = <A, E, R>(
  ifTraced: () => Effect.Effect<A, E, R>,
  otherwise: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => Effect.tracerWith((tracer) => (tracer !== nativeTracer ? ifTraced() : otherwise))

/** Wraps a request's whole retry loop in its span (none without a tracer). */
export const withRequestSpan =
  (name: string, method: string, route: string) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    whenTraced(
      () =>
        Effect.withSpan(self, `GraphClient.${name}`, {
          kind: "client",
          // (the stack of a call into the request loop names the loop, not the caller)
          captureStackTrace: false,
          attributes: {
            "http.request.method": method,
            "graph.route": route,
            "graph.attempts": 1,
            "graph.throttle_wait_ms": 0
          }
        }),
      self
    )

const bodySize = (contentLength: string | undefined): number | undefined => {
  if (contentLength === undefined || !/^\s*\d+\s*$/.test(contentLength)) return undefined
  return Number(contentLength)
}

/**
 * Records an answer, redirect hops included (each overwrites the previous one's status): status,
 * announced body size, and Graph's request-id when it sent one (a redirect target such as a
 * pre-signed download host sends none, so the id of the Graph answer that redirected stays).
 */
export const annotateAnswer = (
  status: number,
  headers: Readonly<Record<string, string | undefined>>
): Effect.Effect<void> =>
  // (without a tracer there is no request span: the caller's own span is not annotated instead)
  whenTraced(() => annotate(status, headers), Effect.void)

const annotate = (
  status: number,
  headers: Readonly<Record<string, string | undefined>>
): Effect.Effect<void> => {
  // A redirect's own body is not the answer's.
  const size = status >= 300 && status < 400 ? undefined : bodySize(headers["content-length"])
  const requestId = headers["request-id"]
  return Effect.annotateCurrentSpan({
    "http.response.status_code": status,
    ...(requestId === undefined || requestId === "" ? {} : { "graph.request_id": requestId }),
    ...(size === undefined ? {} : { "http.response.body.size": size })
  })
}

export interface Retry {
  /** The attempt that failed (1 for the first). */
  readonly attempt: number
  /** Its HTTP status, or null when no answer came (reset, timeout) or the body was malformed. */
  readonly status: number | null
  readonly reason: string
  readonly requestId: string | null
  /** Wait before the next attempt (ms); 0 for a token refresh. */
  readonly delayMs: number
  /** Waited before retries of this request so far, this one included. */
  readonly waitedMs: number
}

/** Records a retry about to happen: an event on the request's span, and the running wait total. */
export const recordRetry = (retry: Retry): Effect.Effect<void> => whenTraced(() => retryEvent(retry), Effect.void)

const retryEvent = (retry: Retry): Effect.Effect<void> =>
  Effect.flatMap(Clock.currentTimeNanos, (now) =>
    Effect.flatMap(Effect.currentSpan, (span) =>
      Effect.sync(() => {
        span.event(RETRY_EVENT, now, {
          "graph.retry.attempt": retry.attempt,
          "graph.retry.reason": retry.reason,
          "graph.retry.delay_ms": retry.delayMs,
          ...(retry.status === null ? {} : { "http.response.status_code": retry.status }),
          ...(retry.requestId === null ? {} : { "graph.request_id": retry.requestId })
        })
        span.attribute("graph.throttle_wait_ms", retry.waitedMs)
        span.attribute("graph.attempts", retry.attempt + 1)
      }))).pipe(Effect.ignore)
