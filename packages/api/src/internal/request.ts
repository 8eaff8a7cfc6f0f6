/**
 * The request loop under every endpoint: rate limit → token → one attempt (redirect hops included) →
 * classify → retry or fail with a typed error. JSON pages and content bodies plug in through
 * `RequestSpec.onOk`.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { randomUUID } from "node:crypto"
import type { GraphStats } from "../GraphClient.js"
import { DecodeError, type GraphError } from "../GraphError.js"
import { currentRequestTally, type MutableGraphRequestTally } from "../GraphRequestTally.js"
import { currentRetryHandler } from "../GraphRetry.js"
import { decideRetry, type GraphPolicy, isRetryableStatus, parseRetryAfter } from "../GraphPolicy.js"
import type { TokenFailure, TokenProvider } from "./auth.js"
import {
  decodeError,
  describeCause,
  type ErrorContext,
  errorFromResponse,
  type GraphErrorBody,
  parseErrorBody,
  transportCause,
  transportError
} from "./errors.js"
import type { GraphBudget } from "../GraphBudget.js"
import { type RequestSlots, waitWithoutSlots } from "./heldSlots.js"
import type { Limiter } from "./limiter.js"
import * as NodeSend from "./nodeSend.js"
import { type Answer, AnswerTimeout, MAX_TIMER_MS, type Outgoing } from "./nodeSend.js"
import * as RawSend from "./rawSend.js"
import * as RequestSpan from "./requestSpan.js"
import { monotonicNow } from "./serverClock.js"

// -- metrics (process-wide, tagged by route template) ---------------------------------------
const requestsTotal = Metric.counter("graph_requests_total", {
  description: "HTTP requests sent to Graph (attempts and redirect hops)",
  incremental: true
})
const retriesTotal = Metric.counter("graph_retries_total", {
  description: "Graph request attempts that were retries",
  incremental: true
})
const throttledTotal = Metric.counter("graph_throttled_total", {
  description: "Graph answers with status 429",
  incremental: true
})
const throttleWaitMs = Metric.counter("graph_retry_wait_ms_total", {
  description: "Time waited before retries (ms)",
  incremental: true
})

/** A counter tagged with a route, made once per route (tagging anew per request re-hashes its key every time). */
const perRoute = (metric: Metric.Metric.Counter<number>) => {
  const tagged = new Map<string, Metric.Metric.Counter<number>>()
  return (route: string): Metric.Metric.Counter<number> => {
    let m = tagged.get(route)
    if (m === undefined) {
      m = Metric.tagged(metric, "route", route)
      tagged.set(route, m)
    }
    return m
  }
}
/**
 * Adds `n` to a counter with the fiber's metric labels, as `Metric.incrementBy` does, in one run-loop
 * step instead of three (counters are updated for every request and every content body).
 */
export const addToCounter = (counter: Metric.Metric.Counter<number>, n: number): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    counter.unsafeUpdate(n, fiber.getFiberRef(FiberRef.currentMetricLabels))
    return Effect.void
  })

const requestsOf = perRoute(requestsTotal)
const retriesOf = perRoute(retriesTotal)
const throttledOf = perRoute(throttledTotal)
const throttleWaitOf = perRoute(throttleWaitMs)

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308])
const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(["authorization", "cookie", "proxy-authorization"])
export const ERROR_BODY_LIMIT = 64 * 1024

/** The counters behind `GraphClientService.stats`. */
export type MutableStats = { -readonly [K in keyof GraphStats]: GraphStats[K] }

/**
 * Sends a request: the plain client, or the scoped one whose answer lives as long as the caller's scope.
 * A failure is the transport's cause (what a platform `RequestError` carries).
 */
export type Exec<R> = (req: Outgoing) => Effect.Effect<Answer, unknown, R>

/** `out` as a platform request: a body is JSON. */
const platformRequest = (out: Outgoing): HttpClientRequest.HttpClientRequest => {
  const req = HttpClientRequest.make(out.method as Method)(out.url.toString(), { headers: out.headers })
  return out.body === undefined ? req : HttpClientRequest.bodyText(req, out.body, "application/json")
}

/** The client's requests through the platform `HttpClient` in context (any transport). */
const platformExec = (http: HttpClient.HttpClient) => {
  // Our own spans carry route templates only; the platform's would record full URLs and response headers.
  const plain = http.pipe(HttpClient.withTracerDisabledWhen(() => true))
  const scoped = HttpClient.withScope(plain)
  return {
    execPlain: (out: Outgoing) => Effect.mapError(plain.execute(platformRequest(out)), transportCause),
    execScoped: (out: Outgoing) => Effect.mapError(scoped.execute(platformRequest(out)), transportCause)
  }
}

/** What every request of one client shares. */
export interface ClientCore {
  readonly baseUrl: string
  readonly baseOrigin: string
  readonly policy: GraphPolicy
  readonly auth: TokenProvider
  readonly limiter: Limiter
  /** A budget shared with other processes (see GraphBudget), consulted after the limiter. */
  readonly budget: GraphBudget | undefined
  readonly execPlain: Exec<never>
  readonly execScoped: Exec<Scope.Scope>
  /**
   * `execScoped` for content bodies, their answers living as long as `scope` (a content request's own):
   * on connections of our own where the transport is ours (rawSend.ts), large bodies read into reused
   * memory, small ones without Node's request and message objects.
   */
  readonly execContent: (scope: Scope.Scope) => Exec<never>
  readonly stats: MutableStats
  /** Time requests waited after throttling answers, and after other failures (see `GraphStats`). */
  readonly throttleWall: WaitTime
  readonly retryWall: WaitTime
}

export const makeCore = (args: {
  readonly baseUrl: string
  readonly policy: GraphPolicy
  readonly auth: TokenProvider
  readonly limiter: Limiter
  readonly budget?: GraphBudget | undefined
  readonly http: HttpClient.HttpClient
}): ClientCore => {
  // the client GraphClient.layer builds on Node's http/https: its requests go straight to the agent
  const agent = NodeSend.agentOf(args.http)
  const { execPlain, execScoped } = agent === undefined
    ? platformExec(args.http)
    : { execPlain: NodeSend.exchange(agent), execScoped: NodeSend.exchangeScoped(agent) }
  const pool = new RawSend.RawPool()
  return {
    execContent: agent === undefined || RawSend.envProxied()
      ? (scope) => inScope(execScoped, scope)
      // (raw GETs keep Outgoing.timeoutMs in sendOn; other requests go to execScoped, which does too)
      : (scope) => NodeSend.timesOut(RawSend.exchangeIn(pool, execScoped, scope)),
    baseUrl: args.baseUrl,
    baseOrigin: new URL(args.baseUrl).origin,
    policy: args.policy,
    auth: args.auth,
    limiter: args.limiter,
    budget: args.budget,
    execPlain,
    execScoped,
    stats: {
      requests: 0,
      retries: 0,
      throttled: 0,
      throttleWaitMs: 0,
      retryWaitMs: 0,
      bytes: 0,
      tokenRefreshes: 0,
      resumes: 0
    },
    throttleWall: new WaitTime(),
    retryWall: new WaitTime()
  }
}

/** `exec` with its answers' scope given, not read from the context (see `ClientCore.execContent`). */
const inScope = (exec: Exec<Scope.Scope>, scope: Scope.Scope): Exec<never> => {
  const bound: Exec<never> = (out) => Scope.extend(exec(out), scope)
  return NodeSend.honoursTimeout(exec) ? NodeSend.timesOut(bound) : bound
}

/** Removes credential headers, whatever their case (the GHSA-396q-4vc8-28x9 mistake was a case-sensitive strip). */
export const stripCredentials = (headers: Readonly<Record<string, string>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) {
    if (!CREDENTIAL_HEADERS.has(k.toLowerCase())) out[k] = v
  }
  return out
}

/** At most `limit` bytes of a body as text ("" when it cannot be read): error bodies and redirect bodies. */
export const readBounded = (res: Answer, limit: number): Effect.Effect<string> =>
  res.stream.pipe(
    Stream.runFoldWhile(
      { parts: [] as Array<Uint8Array>, size: 0 },
      (s) => s.size < limit,
      (s, chunk) => {
        s.parts.push(chunk)
        s.size += chunk.length
        return s
      }
    ),
    Effect.map((s) => Buffer.concat(s.parts).subarray(0, limit).toString("utf8")),
    Effect.catchAll(() => Effect.succeed(""))
  )

/** What a 2xx answer became: a value, a body to fetch again (not JSON), or a transport failure. */
export type Ok<A> =
  | { readonly _tag: "Value"; readonly value: A }
  | { readonly _tag: "Malformed"; readonly why: string }
  | { readonly _tag: "Transport"; readonly why: string }

/** The HTTP methods the client sends. */
export type Method = "GET" | "POST" | "PATCH" | "DELETE"

/** One endpoint call as the request loop sees it. */
export interface RequestSpec<A, R> {
  readonly name: string
  readonly url: string
  readonly route: string
  readonly accept: string
  /** Default GET. */
  readonly method?: Method | undefined
  /** A JSON body (POST/PATCH). */
  readonly body?: unknown
  /**
   * False for a request that must not be repeated once a server may have acted on it (creating a
   * subscription twice makes two): it is retried only after answers that say it was not processed
   * (429, 503) or when the server could not be reached at all. Default true.
   */
  readonly idempotent?: boolean | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly okStatus: (status: number) => boolean
  /**
   * `onOk` waits for nothing (it reads no body, e.g. content handed to its caller): it then runs
   * without a timer of its own. Default false: it runs within what is left of `requestTimeoutMs`.
   */
  readonly immediateOk?: boolean | undefined
  /** Handles a 2xx answer (inside the request slot). */
  readonly onOk: (
    res: Answer,
    ctx: ErrorContext,
    requestId: string | null
  ) => Effect.Effect<Ok<A>, GraphError, R>
  /** Route-level payload name for DecodeErrors of malformed bodies. */
  readonly payload: string
}

type Sent =
  | {
    readonly _tag: "Response"
    readonly res: Answer
    /** Whether it came from Graph's own origin (not a redirect's target): its Date is Graph's clock. */
    readonly fromGraph: boolean
  }
  | { readonly _tag: "Transport"; readonly why: string; readonly unreachable?: boolean }

/** Error codes of a request that never reached a server (nothing was sent). */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL"
])

/** Whether a request error (or one of its causes) says the server could not be reached at all. */
const isUnreachable = (error: unknown): boolean => {
  let c: unknown = error
  for (let depth = 0; depth < 5 && c !== null && typeof c === "object"; depth++) {
    const code = (c as { code?: unknown }).code
    if (typeof code === "string" && UNREACHABLE_CODES.has(code)) return true
    c = (c as { cause?: unknown }).cause
  }
  return false
}

/** The request and any redirect hops, credentials dropped once a hop leaves the first URL's origin. */
export const send = <R>(
  core: ClientCore,
  exec: Exec<R>,
  url: string,
  route: string,
  headers: Record<string, string>,
  method: Method = "GET",
  body?: unknown,
  tally: MutableGraphRequestTally | null = null,
  /** When the answer must have come (`monotonicNow` ms), redirect hops included; none without. */
  deadline = Number.POSITIVE_INFINITY
): Effect.Effect<Sent, never, R> =>
  Effect.gen(function*() {
    let current: URL
    try {
      current = new URL(url)
    } catch {
      return { _tag: "Transport", why: `invalid URL for ${route}` } as const
    }
    const origin = current.origin
    const maxRedirects = core.policy.maxRedirects
    let h = headers
    const text = body === undefined ? undefined : JSON.stringify(body)
    for (let hop = 0;; hop++) {
      core.stats.requests++
      if (tally !== null) tally.requests++
      yield* addToCounter(requestsOf(route), 1)
      const result = yield* Effect.either(sendWithin(exec, { method, url: current, headers: h, body: text }, deadline))
      if (Either.isLeft(result)) {
        const cause = result.left
        if (cause instanceof AnswerTimeout) return noAnswer(core)
        return { _tag: "Transport", why: describeCause(cause), unreachable: isUnreachable(cause) } as const
      }
      const res = result.right
      yield* RequestSpan.annotateAnswer(res.status, res.headers)
      // Only GETs follow redirects: a 301/302/303 would turn a write into a GET, and Graph sends none for writes.
      const fromGraph = current.origin === core.baseOrigin
      if (!REDIRECTS.has(res.status) || method !== "GET") return { _tag: "Response", res, fromGraph } as const
      const location = res.headers["location"]
      if (location === undefined || location === "") return { _tag: "Response", res, fromGraph } as const
      if ((yield* within(deadline, readBounded(res, ERROR_BODY_LIMIT))) === TIMED_OUT) return noAnswer(core)
      if (hop >= maxRedirects) return { _tag: "Transport", why: `more than ${maxRedirects} redirects` } as const
      let next: URL
      try {
        next = new URL(location, current)
      } catch {
        return { _tag: "Transport", why: "redirect to an invalid Location" } as const
      }
      if (current.protocol === "https:" && next.protocol !== "https:") {
        return { _tag: "Transport", why: "refused a redirect from https to plain http" } as const
      }
      if (next.protocol !== "https:" && next.protocol !== "http:") {
        return { _tag: "Transport", why: `refused a redirect to ${next.protocol}` } as const
      }
      if (next.origin !== origin) h = stripCredentials(h)
      current = next
    }
  })

/** How one attempt ended. */
export type Outcome<A> =
  | { readonly _tag: "Done"; readonly value: A; readonly status: number }
  | {
    readonly _tag: "Status"
    readonly status: number
    readonly body: GraphErrorBody
    readonly retryAfterMs: number | undefined
  }
  | { readonly _tag: "Transport"; readonly why: string; readonly unreachable?: boolean }
  | { readonly _tag: "Malformed"; readonly why: string; readonly requestId: string | null; readonly status: number }

/**
 * One attempt of a request: send it (redirect hops included), then hand a 2xx to the spec or read the
 * error body, all within `requestTimeoutMs`. The rate and concurrency slots are the caller's. Each
 * answer is recorded on the request's span (by `send`), each retry as an event on it (by `run`).
 * The time limit is kept by each wait in turn (the transport's own timer when it has one, see
 * `sendWithin`), not by a fiber forked around the attempt: a fork cost a tiny request ~a quarter of its CPU.
 */
export const attempt = <A, R>(
  core: ClientCore,
  spec: RequestSpec<A, R>,
  exec: Exec<R>,
  headers: Record<string, string>,
  ctx: ErrorContext,
  tally: MutableGraphRequestTally | null = null
): Effect.Effect<Outcome<A>, GraphError, R> =>
  Effect.gen(function*() {
    const sentMs = monotonicNow()
    const deadline = sentMs + core.policy.requestTimeoutMs
    const sent = yield* send(core, exec, spec.url, spec.route, headers, spec.method, spec.body, tally, deadline)
    if (sent._tag === "Transport") return sent
    const res = sent.res
    // every answer of Graph's own origin tells about its clock (a redirect's target is another server's)
    const fromGraph = sent.fromGraph
    if (fromGraph) core.limiter.serverClock.observe(res.headers["date"], sentMs, monotonicNow())
    const requestId = res.headers["request-id"] ?? null
    if (spec.okStatus(res.status)) {
      const onOk = spec.onOk(res, ctx, requestId)
      const ok = spec.immediateOk === true ? yield* onOk : yield* within(deadline, onOk)
      if (ok === TIMED_OUT) return noAnswer(core)
      if (ok._tag === "Value") return { _tag: "Done", value: ok.value, status: res.status } as const
      if (ok._tag === "Malformed") return { _tag: "Malformed", why: ok.why, requestId, status: res.status } as const
      return { _tag: "Transport", why: ok.why } as const
    }
    const text = yield* within(deadline, readBounded(res, ERROR_BODY_LIMIT))
    if (text === TIMED_OUT) return noAnswer(core)
    return {
      _tag: "Status",
      status: res.status,
      body: parseErrorBody(text, requestId),
      retryAfterMs: parseRetryAfter(
        res.headers["retry-after"],
        Date.now(),
        res.headers["date"],
        fromGraph ? core.limiter.serverClock.serverTimeAtLeast(monotonicNow()) : null
      )
    } as const
  })

/** The outcome of an attempt whose answer did not come within `requestTimeoutMs`. */
const noAnswer = (core: ClientCore) =>
  ({ _tag: "Transport", why: `no answer within ${core.policy.requestTimeoutMs} ms` }) as const

/** What `within` gives when the deadline passed first. */
const TIMED_OUT: unique symbol = Symbol("TIMED_OUT")

/** `effect`, or TIMED_OUT (it is then interrupted) once `deadline` (`monotonicNow` ms) passes before it ends. */
const within = <A, E, R>(deadline: number, effect: Effect.Effect<A, E, R>): Effect.Effect<A | typeof TIMED_OUT, E, R> =>
  Effect.suspend(() => {
    const left = deadline - monotonicNow()
    return left <= 0 ? Effect.succeed(TIMED_OUT) : withDeadline(left, (): typeof TIMED_OUT => TIMED_OUT)(effect)
  })

/**
 * Sends one hop, its answer due by `deadline`: a transport that keeps `Outgoing.timeoutMs` itself gets
 * what is left (it fails with `AnswerTimeout`); any other runs under `within`.
 */
const sendWithin = <R>(exec: Exec<R>, out: Outgoing, deadline: number): Effect.Effect<Answer, unknown, R> =>
  Effect.suspend(() => {
    const left = deadline - monotonicNow()
    if (left <= 0) return Effect.fail(new AnswerTimeout())
    if (NodeSend.honoursTimeout(exec)) {
      return exec(left === Number.POSITIVE_INFINITY ? out : { ...out, timeoutMs: left })
    }
    return Effect.flatMap(
      within(deadline, exec(out)),
      (a) => (a === TIMED_OUT ? Effect.fail(new AnswerTimeout()) : Effect.succeed(a))
    )
  })

/**
 * `effect`, or `onTimeout()` once `ms` pass before it ends (it is then interrupted, which destroys its
 * request). One forked fiber and one timer: `Effect.timeoutTo` races two fibers (a sleep among them) and
 * merges the winner's FiberRefs back, which cost more CPU than a small request. The attempt sets no
 * FiberRef its caller reads (its span is annotated in place).
 */
const withDeadline =
  <B>(ms: number, onTimeout: () => B) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A | B, E, R> =>
    // Node fires a longer timer after 1 ms (TimeoutOverflowWarning): a deadline that far off is none at all
    ms > MAX_TIMER_MS ?
      effect :
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(Effect.fork(restore(effect)), (fiber) =>
          Effect.onInterrupt(
            restore(Effect.async<A | B, E>((resume) => {
              let settled = false
              const timer = setTimeout(() => {
                if (settled) return
                settled = true
                resume(Effect.as(Fiber.interrupt(fiber), onTimeout()))
              }, ms)
              fiber.addObserver((exit) => {
                if (settled) return
                settled = true
                clearTimeout(timer)
                resume(exit)
              })
              return Effect.sync(() => {
                settled = true
                clearTimeout(timer)
              })
            })),
            () => Fiber.interrupt(fiber)
          ))
      )

const tokenError = (f: TokenFailure, method: string, route: string) =>
  errorFromResponse(401, { code: f.code, innerCode: null, message: f.message, requestId: null }, {
    method,
    route,
    clientRequestId: null,
    attempts: 0
  }, undefined)

export const malformedFailure = (
  payload: string,
  why: string,
  ctx: ErrorContext,
  requestId: string | null
): DecodeError =>
  decodeError({
    status: 200,
    payload,
    field: "",
    what: `is not valid JSON after ${ctx.attempts} attempt(s) (${why})`,
    ctx,
    requestId
  })

/** Why an attempt is retried, in a few words. */
const reasonOf = (outcome: Exclude<Outcome<unknown>, { _tag: "Done" }>): string => {
  switch (outcome._tag) {
    case "Status":
      return `HTTP ${outcome.status}`
    case "Malformed":
      return "a body that is not valid JSON"
    case "Transport":
      return outcome.why
  }
}

/**
 * The wall-clock time covered by a set of waits (their union), so that waits of concurrent requests
 * count once: a client's wait totals never exceed the time it ran.
 */
export class WaitTime {
  private coveredUntil = 0
  /** Adds the wait [from, until) (from never decreases between calls); returns the time it adds. */
  add(from: number, until: number): number {
    const added = Math.max(0, until - Math.max(from, this.coveredUntil))
    if (until > this.coveredUntil) this.coveredUntil = until
    return added
  }
}

/** The error an outcome that is not retried ends the call with. */
const failureOf = <A>(
  outcome: Exclude<Outcome<A>, { _tag: "Done" }>,
  spec: RequestSpec<A, unknown>,
  ctx: ErrorContext
): GraphError => {
  switch (outcome._tag) {
    case "Status":
      return errorFromResponse(outcome.status, outcome.body, ctx, outcome.retryAfterMs)
    case "Malformed":
      return malformedFailure(spec.payload, outcome.why, ctx, outcome.requestId)
    case "Transport":
      return transportError(outcome.why, ctx)
  }
}

/** `effect` holding one of the budget's request slots shared with other processes, when it has them. */
const withSharedSlot = <A, E, R>(
  budget: GraphBudget | undefined,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  budget?.requestSlot === undefined
    ? effect
    : Effect.acquireUseRelease(budget.requestSlot, () => effect, (release) => release)

/**
 * The request loop: rate limit → token → attempt → classify → retry or fail. `holdsSlot`: the caller
 * already holds a request slot (content downloads hold theirs for the whole body): `RequestSlots` it
 * gives back while a retry waits (with the slots held around the request, see GraphSlot), `true` it
 * keeps for the whole call.
 */
export const run = <A, R>(
  core: ClientCore,
  spec: RequestSpec<A, R>,
  exec: Exec<R>,
  holdsSlot: boolean | RequestSlots = false
): Effect.Effect<A, GraphError, R> => {
  const { auth, budget, limiter, policy, retryWall, stats, throttleWall } = core
  const take = budget === undefined ? limiter.take : Effect.zipLeft(limiter.take, budget.take)
  const method = spec.method ?? "GET"
  const idempotent = spec.idempotent !== false
  const fetchToken = Effect.mapError(auth.get, (f) => tokenError(f, method, spec.route))
  const loop = Effect.gen(function*() {
    const tally = yield* FiberRef.get(currentRequestTally)
    let attempts = 0
    let waited = 0
    // waits after attempts that could not reach the server at all (bounded by policy.connectRetryMs)
    let unreachableWaited = 0
    let refreshed = false
    let malformed = 0
    for (;;) {
      attempts++
      if (attempts > 1) {
        stats.retries++
        if (tally !== null) tally.retries++
        yield* addToCounter(retriesOf(spec.route), 1)
      }
      // (a static or fresh cached token is read without an Effect)
      const token = auth.current() ?? (yield* fetchToken)
      const clientRequestId = randomUUID()
      const ctx: ErrorContext = { method, route: spec.route, clientRequestId, attempts }
      const headers: Record<string, string> = {
        ...spec.headers,
        accept: spec.accept,
        authorization: `Bearer ${Redacted.value(token)}`,
        "client-request-id": clientRequestId,
        "return-client-request-id": "true"
      }
      // The rate slot is taken inside the concurrency slot: otherwise fibers queued on the semaphore
      // would pass the rate gate early and burst out together when slots free up.
      // (when the rate slot was granted: the limiter reads a rate cut on the answers to requests sent after it)
      let sentAt = 0
      const paced = Effect.zipRight(
        Effect.map(take, (t) => (sentAt = t)),
        attempt(core, spec, exec, headers, ctx, tally)
      )
      const outcome = yield* (holdsSlot !== false ? paced : limiter.requests.withPermit(withSharedSlot(budget, paced)))
      if (outcome._tag === "Done") {
        yield* limiter.success(sentAt)
        return outcome.value
      }
      let retryAfterMs: number | undefined
      if (outcome._tag === "Status") {
        const { status } = outcome
        if (status === 401 && !refreshed && auth.invalidate(token)) {
          // One fresh token, then retry at once: an expired token is not a reason to back off.
          refreshed = true
          stats.tokenRefreshes++
          yield* RequestSpan.recordRetry({
            attempt: attempts,
            status,
            reason: "token refresh",
            requestId: outcome.body.requestId,
            delayMs: 0,
            waitedMs: waited
          })
          continue
        }
        if (!isRetryableStatus(status) || (!idempotent && status !== 429 && status !== 503)) {
          return yield* Effect.fail(failureOf(outcome, spec, ctx))
        }
        retryAfterMs = outcome.retryAfterMs
        if (status === 429) {
          stats.throttled++
          if (tally !== null) tally.throttled++
          yield* addToCounter(throttledOf(spec.route), 1)
        }
      } else if (
        !idempotent && (outcome._tag === "Malformed" || (outcome._tag === "Transport" && outcome.unreachable !== true))
      ) {
        // the server may have acted on it (an answer came, or the connection broke after sending)
        return yield* Effect.fail(failureOf(outcome, spec, ctx))
      } else if (outcome._tag === "Malformed") {
        malformed++
        if (malformed > policy.malformedPageRetries) return yield* Effect.fail(failureOf(outcome, spec, ctx))
      }
      const decision = decideRetry({ attempts, retryAfterMs, waitedMs: waited, policy, random: Math.random() })
      if (decision._tag === "GiveUp") return yield* Effect.fail(failureOf(outcome, spec, ctx))
      if (outcome._tag === "Transport" && outcome.unreachable === true) {
        if (unreachableWaited + decision.delayMs > policy.connectRetryMs) {
          const why = `could not reach the server (${outcome.why}); gave up after ${attempts} attempt(s) over ${
            Math.round(unreachableWaited / 100) / 10
          } s (policy.connectRetryMs ${policy.connectRetryMs})`
          return yield* Effect.fail(transportError(why, ctx))
        }
        unreachableWaited += decision.delayMs
      }
      const now = yield* Clock.currentTimeMillis
      waited += decision.delayMs
      yield* RequestSpan.recordRetry({
        attempt: attempts,
        status: outcome._tag === "Transport" ? null : outcome.status,
        reason: outcome._tag === "Status"
          ? `status ${outcome.status}`
          : outcome._tag === "Malformed"
          ? "malformed body"
          : outcome.why,
        requestId: outcome._tag === "Status"
          ? outcome.body.requestId
          : outcome._tag === "Malformed"
          ? outcome.requestId
          : null,
        delayMs: decision.delayMs,
        waitedMs: waited
      })
      // A 429, or another answer with Retry-After: the server asked this request to wait. Only this request
      // waits (the limiter decides whether the tenant as a whole must); other retries are backoff.
      const throttled = outcome._tag === "Status" && (outcome.status === 429 || retryAfterMs !== undefined)
      if (throttled) {
        // only a 429 tells of the tenant's budget (a 503 is the service's own trouble); `spec` is this call
        if (outcome.status === 429) {
          yield* limiter.throttled(now + decision.delayMs, spec, sentAt)
          if (budget !== undefined) yield* budget.throttled(now + decision.delayMs)
        }
        stats.throttleWaitMs += throttleWall.add(now, now + decision.delayMs)
        if (tally !== null) tally.throttleWaitMs += decision.delayMs
      } else {
        stats.retryWaitMs += retryWall.add(now, now + decision.delayMs)
      }
      // the metric sums every retry's wait over requests (the stats above are wall time)
      yield* addToCounter(throttleWaitOf(spec.route), decision.delayMs)
      const onRetry = yield* FiberRef.get(currentRetryHandler)
      if (onRetry !== null) {
        yield* onRetry({
          route: spec.route,
          attempt: attempts,
          delayMs: decision.delayMs,
          reason: reasonOf(outcome),
          throttled
        })
      }
      // a request told to wait holds no connection: its slots serve other requests meanwhile
      yield* (holdsSlot === true
        ? Effect.sleep(decision.delayMs)
        : waitWithoutSlots(decision.delayMs, holdsSlot === false ? undefined : holdsSlot))
    }
  })
  return RequestSpan.withRequestSpan(spec.name, method, spec.route)(loop)
}
