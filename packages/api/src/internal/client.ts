/**
 * The GraphClient implementation: one request loop (rate limit, auth, retry,
 * redirects, error mapping) under every endpoint, OData paging, and resumable
 * content streams.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Chunk from "effect/Chunk"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { randomUUID } from "node:crypto"
import { CallRecording } from "../CallRecording.js"
import { CallTranscript } from "../CallTranscript.js"
import type {
  Content,
  ContentOptions,
  DeltaEvent,
  DeltaStart,
  GraphClientOptions,
  GraphClientService,
  GraphStats,
  ListOptions
} from "../GraphClient.js"
import { type BadRequest, DecodeError, type GraphError, NotFound } from "../GraphError.js"
import { decideRetry, type GraphPolicy, isRetryableStatus, makePolicy, parseRetryAfter, backoffDelay } from "../GraphPolicy.js"
import * as Url from "../GraphUrl.js"
import { currentInvalidItemHandler, type InvalidItem } from "../InvalidItem.js"
import { ODataPage } from "../ODataPage.js"
import { OnlineMeeting } from "../OnlineMeeting.js"
import { makeTokenProvider, type TokenFailure } from "./auth.js"
import {
  describeCause,
  type ErrorContext,
  errorFromResponse,
  type GraphErrorBody,
  invalidArgument,
  parseErrorBody,
  transportError
} from "./errors.js"
import { limiterFor } from "./limiter.js"

// -- metrics (process-wide, tagged by route template) ---------------------------------------
const requestsTotal = Metric.counter("graph_requests_total", { description: "HTTP requests sent to Graph (attempts and redirect hops)", incremental: true })
const retriesTotal = Metric.counter("graph_retries_total", { description: "Graph request attempts that were retries", incremental: true })
const throttledTotal = Metric.counter("graph_throttled_total", { description: "Graph answers with status 429", incremental: true })
const throttleWaitMs = Metric.counter("graph_retry_wait_ms_total", { description: "Time waited before retries (ms)", incremental: true })
const contentBytes = Metric.counter("graph_content_bytes_total", { description: "Content bytes delivered", incremental: true })

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308])
const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(["authorization", "cookie", "proxy-authorization"])
const ERROR_BODY_LIMIT = 64 * 1024
const METRIC_BATCH_BYTES = 8 * 1024 * 1024
const EMPTY = new Uint8Array(0)

/** Removes credential headers, whatever their case (the GHSA-396q-4vc8-28x9 mistake was a case-sensitive strip). */
export const stripCredentials = (headers: Readonly<Record<string, string>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) {
    if (!CREDENTIAL_HEADERS.has(k.toLowerCase())) out[k] = v
  }
  return out
}

/** `Content-Range: bytes 100-199/1000` → { start, end, total } (total null for `*`). */
export const parseContentRange = (value: string | undefined): { start: number; end: number; total: number | null } | undefined => {
  if (value === undefined) return undefined
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value)
  if (m === null) return undefined
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === "*" ? null : Number(m[3]) }
}

const parseLength = (value: string | undefined): number | null => {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return null
  return Number(value)
}

/**
 * Whether a 416 to a request for bytes from `at` shows that the content ends exactly at `at` (nothing
 * after it), or why not. The strict rule: its Content-Range (the unsatisfied form, `bytes *` + `/N`)
 * says N === at, or it names no length and the request carried `If-Range` (a server whose content no
 * longer matched the validator would have answered 200 with the whole body, so the content is the one
 * asked about and `at` is not inside it). A length other than `at` (the content shrank or grew), or no
 * length without If-Range, cannot show the end: the caller fails.
 */
const endsAt = (res: HttpClientResponse.HttpClientResponse, at: number, sentIfRange: boolean): true | string => {
  const header = res.headers["content-range"]
  const m = header === undefined ? null : /^\s*bytes\s+\*\/(\d+|\*)\s*$/i.exec(header)
  const total = m === null || m[1] === "*" ? null : Number(m[1])
  if (total !== null) return total === at ? true : `the content is ${total} bytes long now (Content-Range ${header})`
  if (sentIfRange) return true
  return `Content-Range ${header ?? "(none)"} does not say where the content ends`
}

class Cut {
  readonly _tag = "Cut"
  constructor(readonly why: string) {}
}

type Ok<A> =
  | { readonly _tag: "Value"; readonly value: A }
  | { readonly _tag: "Malformed"; readonly why: string }
  | { readonly _tag: "Transport"; readonly why: string }

interface Spec<A, R> {
  readonly name: string
  readonly url: string
  readonly route: string
  readonly accept: string
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly okStatus: (status: number) => boolean
  /** Handles a 2xx answer (inside the request slot). */
  readonly onOk: (res: HttpClientResponse.HttpClientResponse, ctx: ErrorContext, requestId: string | null) => Effect.Effect<Ok<A>, GraphError, R>
  /** Route-level payload name for DecodeErrors of malformed bodies. */
  readonly payload: string
}

type Exec<R> = (req: HttpClientRequest.HttpClientRequest) => Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError, R>

const readBounded = (res: HttpClientResponse.HttpClientResponse, limit: number): Effect.Effect<string> =>
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

const decodeFailure = (
  e: ParseResult.ParseError,
  payload: string,
  status: number,
  ctx: ErrorContext,
  requestId: string | null,
  /** Where the decoded value sits in the body (an item of a page: ["value", i]). */
  at: ReadonlyArray<PropertyKey> = []
): DecodeError => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(e)
  const first = issues[0]
  const field = first === undefined
    ? ""
    : [...at, ...first.path].map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("")
  return new DecodeError({
    status,
    code: null,
    innerCode: null,
    requestId,
    clientRequestId: ctx.clientRequestId,
    method: ctx.method,
    route: ctx.route,
    payload,
    field,
    message: `${ctx.method} ${ctx.route}: the ${payload} does not have the expected shape at ${field === "" ? "the top level" : `"${field}"`}: ${first?.message ?? e.message} [request-id ${requestId ?? "-"}, client-request-id ${ctx.clientRequestId ?? "-"}]`
  })
}

const pageSchemas = {
  recording: ODataPage(CallRecording),
  transcript: ODataPage(CallTranscript),
  meeting: ODataPage(OnlineMeeting)
}

/** Each page schema's item, for listings run inside `handleInvalidItems`. */
const itemSchemaOf = new Map<object, {
  readonly resource: InvalidItem["resource"]
  readonly decode: (u: unknown) => Either.Either<unknown, ParseResult.ParseError>
}>([
  [pageSchemas.recording, { resource: "CallRecording", decode: Schema.decodeUnknownEither(CallRecording) }],
  [pageSchemas.transcript, { resource: "CallTranscript", decode: Schema.decodeUnknownEither(CallTranscript) }],
  [pageSchemas.meeting, { resource: "OnlineMeeting", decode: Schema.decodeUnknownEither(OnlineMeeting) }]
])

/** A page whose items are left undecoded, for item-by-item decoding. */
const decodeLoosePage = Schema.decodeUnknown(ODataPage(Schema.Unknown))

const malformedFailure = (payload: string, why: string, ctx: ErrorContext, requestId: string | null): DecodeError =>
  new DecodeError({
    status: 200,
    code: null,
    innerCode: null,
    requestId,
    clientRequestId: ctx.clientRequestId,
    method: ctx.method,
    route: ctx.route,
    payload,
    field: "",
    message: `${ctx.method} ${ctx.route}: the ${payload} is not valid JSON after ${ctx.attempts} attempt(s) (${why}) [request-id ${requestId ?? "-"}, client-request-id ${ctx.clientRequestId ?? "-"}]`
  })

export const make = (options: GraphClientOptions): Effect.Effect<GraphClientService, BadRequest, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    let baseUrl: string
    let policy: GraphPolicy
    try {
      baseUrl = Url.normalizeBaseUrl(options.baseUrl ?? Url.DEFAULT_BASE_URL)
      policy = makePolicy(options.policy)
    } catch (e) {
      return yield* Effect.fail(invalidArgument((e as Error).message, "NEW", "GraphClient"))
    }
    const baseOrigin = new URL(baseUrl).origin
    const scope = options.scope ?? Url.scopeForBaseUrl(baseUrl)
    const auth = makeTokenProvider(options.credential, scope)
    const limiter = limiterFor(policy)
    // Our own spans carry route templates only; the platform's would record full URLs and response headers.
    const http = (yield* HttpClient.HttpClient).pipe(HttpClient.withTracerDisabledWhen(() => true))
    const scopedHttp = HttpClient.withScope(http)
    const execPlain: Exec<never> = (req) => http.execute(req)
    const execScoped: Exec<Scope.Scope> = (req) => scopedHttp.execute(req)

    const stats = { requests: 0, retries: 0, throttled: 0, throttleWaitMs: 0, bytes: 0, tokenRefreshes: 0, resumes: 0 }

    type Sent =
      | { readonly _tag: "Response"; readonly res: HttpClientResponse.HttpClientResponse }
      | { readonly _tag: "Transport"; readonly why: string }

    /** One attempt: the request and any redirect hops, credentials dropped once a hop leaves the Graph origin. */
    const send = <R>(exec: Exec<R>, url: string, route: string, headers: Record<string, string>): Effect.Effect<Sent, never, R> =>
      Effect.gen(function*() {
        let current: URL
        try {
          current = new URL(url)
        } catch {
          return { _tag: "Transport", why: `invalid URL for ${route}` } as const
        }
        const origin = current.origin
        let h = headers
        for (let hop = 0;; hop++) {
          stats.requests++
          yield* Metric.increment(Metric.tagged(requestsTotal, "route", route))
          const result = yield* Effect.either(exec(HttpClientRequest.get(current.toString(), { headers: h })))
          if (Either.isLeft(result)) return { _tag: "Transport", why: describeCause(result.left.cause ?? result.left) } as const
          const res = result.right
          if (!REDIRECTS.has(res.status)) return { _tag: "Response", res } as const
          const location = res.headers["location"]
          if (location === undefined || location === "") return { _tag: "Response", res } as const
          yield* readBounded(res, ERROR_BODY_LIMIT)
          if (hop >= policy.maxRedirects) return { _tag: "Transport", why: `more than ${policy.maxRedirects} redirects` } as const
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

    const tokenError = (f: TokenFailure, method: string, route: string) =>
      errorFromResponse(401, { code: f.code, innerCode: null, message: f.message, requestId: null }, {
        method,
        route,
        clientRequestId: null,
        attempts: 0
      }, undefined)

    /** The request loop: rate limit → token → attempt → classify → retry or fail. */
    const run = <A, R>(spec: Spec<A, R>, exec: Exec<R>, holdsSlot = false): Effect.Effect<A, GraphError, R> => {
      const method = "GET"
      let attempts = 0
      let lastStatus = 0
      const loop = Effect.gen(function*() {
        let waited = 0
        let refreshed = false
        let malformed = 0
        for (;;) {
          attempts++
          if (attempts > 1) {
            stats.retries++
            yield* Metric.increment(Metric.tagged(retriesTotal, "route", spec.route))
          }
          const token = yield* Effect.mapError(auth.get, (f) => tokenError(f, method, spec.route))
          const clientRequestId = randomUUID()
          const ctx: ErrorContext = { method, route: spec.route, clientRequestId, attempts }
          const headers: Record<string, string> = {
            ...spec.headers,
            accept: spec.accept,
            authorization: `Bearer ${Redacted.value(token)}`,
            "client-request-id": clientRequestId,
            "return-client-request-id": "true"
          }
          type Outcome =
            | { readonly _tag: "Done"; readonly value: A }
            | { readonly _tag: "Status"; readonly status: number; readonly body: GraphErrorBody; readonly retryAfterMs: number | undefined }
            | { readonly _tag: "Transport"; readonly why: string }
            | { readonly _tag: "Malformed"; readonly why: string; readonly requestId: string | null }
          const attempt: Effect.Effect<Outcome, GraphError, R> = Effect.gen(function*() {
            const sent = yield* send(exec, spec.url, spec.route, headers)
            if (sent._tag === "Transport") return sent
            const res = sent.res
            lastStatus = res.status
            const requestId = res.headers["request-id"] ?? null
            if (spec.okStatus(res.status)) {
              const ok = yield* spec.onOk(res, ctx, requestId)
              if (ok._tag === "Value") return { _tag: "Done", value: ok.value } as const
              if (ok._tag === "Malformed") return { _tag: "Malformed", why: ok.why, requestId } as const
              return { _tag: "Transport", why: ok.why } as const
            }
            const text = yield* readBounded(res, ERROR_BODY_LIMIT)
            return {
              _tag: "Status",
              status: res.status,
              body: parseErrorBody(text, requestId),
              retryAfterMs: parseRetryAfter(res.headers["retry-after"], Date.now(), res.headers["date"])
            } as const
          })
          const timed = Effect.timeoutTo(attempt, {
            duration: policy.requestTimeoutMs,
            onTimeout: (): Outcome => ({ _tag: "Transport", why: `no answer within ${policy.requestTimeoutMs} ms` }),
            onSuccess: (o): Outcome => o
          })
          // Downloads hold their request slot for the whole body (resumes included), so they do not take another.
          // The rate slot is taken inside the concurrency slot: otherwise fibers queued on the semaphore
          // would pass the rate gate early and burst out together when slots free up.
          const paced = Effect.zipRight(limiter.take, timed)
          const outcome = yield* (holdsSlot ? paced : limiter.requests.withPermits(1)(paced))
          if (outcome._tag === "Done") {
            limiter.success()
            return outcome.value
          }
          let retryAfterMs: number | undefined
          if (outcome._tag === "Status") {
            const { status } = outcome
            if (status === 401 && !refreshed && auth.invalidate(token)) {
              // One fresh token, then retry at once: an expired token is not a reason to back off.
              refreshed = true
              stats.tokenRefreshes++
              continue
            }
            if (!isRetryableStatus(status)) return yield* Effect.fail(errorFromResponse(status, outcome.body, ctx, outcome.retryAfterMs))
            retryAfterMs = outcome.retryAfterMs
            if (status === 429) {
              stats.throttled++
              yield* Metric.increment(Metric.tagged(throttledTotal, "route", spec.route))
            }
          } else if (outcome._tag === "Malformed") {
            malformed++
            if (malformed > policy.malformedPageRetries) {
              return yield* Effect.fail(malformedFailure(spec.payload, outcome.why, ctx, outcome.requestId))
            }
          }
          const decision = decideRetry({ attempts, retryAfterMs, waitedMs: waited, policy, random: Math.random() })
          if (decision._tag === "GiveUp") {
            if (outcome._tag === "Status") {
              return yield* Effect.fail(errorFromResponse(outcome.status, outcome.body, ctx, outcome.retryAfterMs))
            }
            if (outcome._tag === "Malformed") {
              return yield* Effect.fail(malformedFailure(spec.payload, outcome.why, ctx, outcome.requestId))
            }
            return yield* Effect.fail(transportError(outcome.why, ctx))
          }
          if (outcome._tag === "Status" && (outcome.status === 429 || retryAfterMs !== undefined)) {
            // Everyone using this tenant waits, not just this fiber.
            limiter.pause(Date.now() + decision.delayMs, outcome.status === 429)
          }
          waited += decision.delayMs
          stats.throttleWaitMs += decision.delayMs
          yield* Metric.incrementBy(Metric.tagged(throttleWaitMs, "route", spec.route), decision.delayMs)
          yield* Effect.sleep(decision.delayMs)
        }
      })
      return loop.pipe(
        Effect.onExit(() =>
          Effect.annotateCurrentSpan({ "http.response.status_code": lastStatus, "graph.attempts": attempts })
        ),
        Effect.withSpan(`GraphClient.${spec.name}`, {
          kind: "client",
          attributes: { "http.request.method": method, "graph.route": spec.route }
        })
      )
    }

    // -- JSON ----------------------------------------------------------------------------
    const getJson = <A, I>(name: string, route: Url.GraphRoute, schema: Schema.Schema<A, I>, payload: string): Effect.Effect<A, GraphError> => {
      const decode = Schema.decodeUnknown(schema)
      return run<A, never>({
        name,
        url: route.url,
        route: route.route,
        accept: "application/json",
        payload,
        okStatus: (s) => s >= 200 && s < 300,
        onOk: (res, ctx, requestId) =>
          Effect.gen(function*() {
            const text = yield* Effect.either(res.text)
            if (Either.isLeft(text)) return { _tag: "Transport", why: describeCause(text.left.cause ?? text.left) } as const
            let json: unknown
            try {
              json = JSON.parse(text.right)
            } catch (e) {
              return { _tag: "Malformed", why: (e as Error).message } as const
            }
            const item = itemSchemaOf.get(schema)
            const onInvalid = item === undefined ? null : yield* FiberRef.get(currentInvalidItemHandler)
            if (item !== undefined && onInvalid !== null) {
              // Item by item: a malformed item goes to the handler, the rest of the page is kept.
              const page = yield* Effect.either(decodeLoosePage(json))
              if (Either.isLeft(page)) return yield* Effect.fail(decodeFailure(page.left, payload, res.status, ctx, requestId))
              const value: Array<unknown> = []
              const raw = page.right.value
              for (let i = 0; i < raw.length; i++) {
                const one = item.decode(raw[i])
                if (Either.isRight(one)) {
                  value.push(one.right)
                  continue
                }
                const error = decodeFailure(one.left, payload, res.status, ctx, requestId, ["value", i])
                const fields = (typeof raw[i] === "object" && raw[i] !== null ? raw[i] : {}) as { id?: unknown; meetingId?: unknown }
                yield* onInvalid({
                  route: ctx.route,
                  payload,
                  resource: item.resource,
                  index: i,
                  id: typeof fields.id === "string" ? fields.id : null,
                  meetingId: typeof fields.meetingId === "string" ? fields.meetingId : null,
                  error
                })
              }
              return { _tag: "Value", value: { ...page.right, value } as A } as const
            }
            const decoded = yield* Effect.either(decode(json))
            if (Either.isLeft(decoded)) return yield* Effect.fail(decodeFailure(decoded.left, payload, res.status, ctx, requestId))
            return { _tag: "Value", value: decoded.right } as const
          })
      }, execPlain)
    }

    const guard = <A>(method: string, routeName: string, build: () => A): Either.Either<A, BadRequest> => {
      try {
        return Either.right(build())
      } catch (e) {
        if (e instanceof Url.InvalidArgument) return Either.left(invalidArgument(e.message, method, routeName))
        throw e
      }
    }

    const checkLink = (link: string, route: string, what: string): Effect.Effect<string, GraphError> => {
      let origin: string
      try {
        origin = new URL(link).origin
      } catch {
        return Effect.fail(invalidArgument(`${what} is not an absolute URL`, "GET", route))
      }
      // Never send the token to a host a payload named.
      return origin === baseOrigin
        ? Effect.succeed(link)
        : Effect.fail(invalidArgument(`${what} points to ${origin}, not ${baseOrigin}; refusing to send credentials there`, "GET", route))
    }

    type Page<A> = {
      readonly value: ReadonlyArray<A>
      readonly "@odata.nextLink"?: string
      readonly "@odata.deltaLink"?: string
    }


    const pages = <A>(
      name: string,
      first: Either.Either<Url.GraphRoute, BadRequest>,
      schema: Schema.Schema<any, any>,
      payload: string
    ): Stream.Stream<A, GraphError> => {
      if (Either.isLeft(first)) return Stream.fail(first.left)
      const route = first.right.route
      return Stream.paginateChunkEffect(first.right.url, (url) =>
        getJson(name, { url, route }, schema, payload).pipe(
          Effect.flatMap((page: Page<A>) => {
            const next = page["@odata.nextLink"]
            // An empty page with a nextLink means "keep going", not "done".
            if (next === undefined || next === null) return Effect.succeed([Chunk.fromIterable(page.value), Option.none<string>()] as const)
            return Effect.map(checkLink(next, route, "@odata.nextLink"), (n) => [Chunk.fromIterable(page.value), Option.some(n)] as const)
          })
        ))
    }

    const deltaPages = <A, W>(
      name: string,
      start: DeltaStart<W>,
      build: (w: W) => Url.GraphRoute,
      schema: Schema.Schema<any, any>,
      payload: string
    ): Stream.Stream<DeltaEvent<A>, GraphError> => {
      let first: Either.Either<Url.GraphRoute, BadRequest>
      if (start !== null && typeof start === "object" && "deltaLink" in start && typeof start.deltaLink === "string") {
        first = Either.right({ url: start.deltaLink, route: Url.routeOfLink(baseUrl, start.deltaLink) })
      } else {
        first = guard("GET", name, () => build(start as W))
      }
      if (Either.isLeft(first)) return Stream.fail(first.left)
      const route = first.right.route
      type S = Option.Option<string>
      return Stream.paginateChunkEffect(Option.some(first.right.url) as S, (state) =>
        Option.isNone(state)
          ? Effect.succeed([Chunk.empty<DeltaEvent<A>>(), Option.none<S>()] as const)
          : checkLink(state.value, route, "delta link").pipe(
            Effect.flatMap((url) => getJson(name, { url, route }, schema, payload)),
            Effect.flatMap((page: Page<A>) => {
              const items = Chunk.fromIterable(page.value.map((item): DeltaEvent<A> => ({ _tag: "Item", item })))
              const next = page["@odata.nextLink"]
              if (typeof next === "string") return Effect.succeed([items, Option.some(Option.some(next) as S)] as const)
              const delta = page["@odata.deltaLink"]
              if (typeof delta === "string") {
                return Effect.succeed(
                  [Chunk.append(items, { _tag: "DeltaLink", deltaLink: delta } as DeltaEvent<A>), Option.none<S>()] as const
                )
              }
              return Effect.fail(
                new DecodeError({
                  status: 200,
                  code: null,
                  innerCode: null,
                  requestId: null,
                  clientRequestId: null,
                  method: "GET",
                  route,
                  payload,
                  field: "@odata.deltaLink",
                  message: `GET ${route}: a delta page carries neither @odata.nextLink nor @odata.deltaLink`
                })
              )
            })
          ))
    }

    // -- content -------------------------------------------------------------------------
    interface ContentSpec {
      readonly name: string
      readonly route: Url.GraphRoute
      readonly accept: string
    }

    const openContent = (
      spec: ContentSpec,
      offset: number,
      ifRange: string | undefined
    ): Effect.Effect<HttpClientResponse.HttpClientResponse, GraphError, Scope.Scope> =>
      run<HttpClientResponse.HttpClientResponse, Scope.Scope>({
        name: spec.name,
        url: spec.route.url,
        route: spec.route.route,
        accept: spec.accept,
        // If-Range: a server whose content no longer matches the validator answers 200 with the whole body.
        headers: offset > 0
          ? (ifRange !== undefined ? { range: `bytes=${offset}-`, "if-range": ifRange } : { range: `bytes=${offset}-` })
          : undefined,
        payload: "content",
        // 416 (range not satisfiable) comes back to the caller, which starts over or fails clearly.
        okStatus: (s) => s === 200 || s === 206 || (offset > 0 && s === 416),
        onOk: (res) => Effect.succeed({ _tag: "Value", value: res } as const)
      }, execScoped, true)

    interface Opened {
      readonly res: HttpClientResponse.HttpClientResponse
      /** Aborts the request (closes the scope it was made in): its body then fails. */
      readonly abort: Effect.Effect<void>
    }

    /** Opens content in a scope of its own, so a stalled body can be aborted without ending the caller's scope. */
    const openIn = (spec: ContentSpec, offset: number, ifRange?: string): Effect.Effect<Opened, GraphError, Scope.Scope> =>
      Effect.gen(function*() {
        const outer = yield* Effect.scope
        const own = yield* Scope.fork(outer, ExecutionStrategy.sequential)
        const res = yield* Scope.extend(openContent(spec, offset, ifRange), own)
        return { res, abort: Scope.close(own, Exit.void) }
      })

    const contentError = (spec: ContentSpec, why: string, attempts: number): GraphError =>
      transportError(why, { method: "GET", route: spec.route.route, clientRequestId: null, attempts })

    /**
     * The body from byte `base` of the artifact: `total` is the length of this stream (not of the
     * artifact), `delivered` counts from `base`; resume requests ask for absolute positions.
     * `firstEnd`: where the first response's bytes end (absolute, exclusive) when it is a 206 that may
     * stop before the end of the content (its total unknown, or larger than its end): the stream then
     * asks for the next range from there, until an answer shows the content ended (a 206 reaching a
     * known total, a 200, a 416 at that offset), so it never ends silently short.
     */
    const bodyStream = (
      spec: ContentSpec,
      first: Opened,
      initialTotal: number | null,
      firstSkip: number,
      base: number,
      firstEnd: number | null,
      callerIfRange: string | undefined
    ): Stream.Stream<Uint8Array, GraphError> =>
      Stream.suspend(() => {
        let total = initialTotal
        // The content's validators as first answered: a later answer with others is other content. A 206
        // to the caller's (strong) If-Range that carries none keeps the caller's as the expected one.
        const firstEtag = first.res.headers["etag"]
        const firstModified = first.res.headers["last-modified"]
        const callerValidator = first.res.status === 206 && firstEtag === undefined && firstModified === undefined &&
            callerIfRange !== undefined && !callerIfRange.startsWith("W/")
          ? callerIfRange
          : undefined
        const etag = firstEtag ?? (callerValidator?.startsWith("\"") ? callerValidator : undefined)
        const lastModified = firstModified ??
          (callerValidator !== undefined && !callerValidator.startsWith("\"") ? callerValidator : undefined)
        // A strong ETag identifies the content on its own; Last-Modified is the evidence only without one
        // (some servers stamp it anew on every response).
        const strongEtag = etag !== undefined && !etag.startsWith("W/")
        // Sent as If-Range with every later request, so a server whose content changed answers 200.
        const ifRange = strongEtag ? etag : lastModified
        // the current response's end (absolute, exclusive) when the content may go on after it
        let rangeEnd = firstEnd
        let delivered = 0
        let resumes = 0
        const idle = policy.bodyIdleTimeoutMs
        // The content-bytes metric is reported in batches (and at the end): a metric update per chunk
        // costs more allocation than the rest of the per-chunk work together.
        let unreported = 0
        const reportBytes = Effect.suspend(() => {
          const n = unreported
          unreported = 0
          return n === 0 ? Effect.void : Metric.incrementBy(contentBytes, n)
        })
        /**
         * The body of one response, `skip` bytes the consumer already has dropped, each pull checked and
         * counted in one step (one Effect per pulled chunk, no extra stream stages). A watchdog aborts
         * the request when a pull has waited `idle` ms for data (time the consumer spends between pulls
         * does not count); the body then fails as cut off.
         */
        const segment = (opened: Opened, skip: number): Stream.Stream<Uint8Array, Cut | GraphError> =>
          Stream.unwrapScoped(Effect.gen(function*() {
            const pull = yield* Stream.toPull(opened.res.stream)
            let waitingSince = 0
            let stalled = false
            let toSkip = skip
            yield* Effect.forkScoped(Effect.gen(function*() {
              for (;;) {
                yield* Effect.sleep(Math.max(10, Math.min(1000, Math.floor(idle / 4))))
                if (waitingSince !== 0 && Date.now() - waitingSince > idle) {
                  stalled = true
                  return yield* opened.abort
                }
              }
            }))
            type Step = Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<Cut | GraphError>>
            const accept = (chunk: Chunk.Chunk<Uint8Array>): Step => {
              waitingSince = 0
              let out: Array<Uint8Array> | undefined
              let n = 0
              let i = 0
              for (let c of chunk) {
                const original = c
                if (toSkip > 0) {
                  if (c.length <= toSkip) {
                    toSkip -= c.length
                    c = EMPTY
                  } else {
                    c = c.subarray(toSkip)
                    toSkip = 0
                  }
                }
                if (total !== null && delivered + n + c.length > total) {
                  return Effect.fail(Option.some(contentError(spec, `the body is longer than its Content-Length ${total}`, resumes + 1)))
                }
                if (rangeEnd !== null && base + delivered + n + c.length > rangeEnd) {
                  return Effect.fail(Option.some(contentError(spec, `the body goes past the end of its Content-Range (byte ${rangeEnd})`, resumes + 1)))
                }
                n += c.length
                // copy the element list only when an element changed (skipped or cut)
                if (out === undefined && (c !== original || c.length === 0)) out = Chunk.toReadonlyArray(chunk).slice(0, i)
                if (out !== undefined && c.length > 0) out.push(c)
                i++
              }
              delivered += n
              stats.bytes += n
              unreported += n
              const result = out === undefined ? chunk : Chunk.unsafeFromArray(out)
              return unreported >= METRIC_BATCH_BYTES ? Effect.as(reportBytes, result) : Effect.succeed(result)
            }
            const step: Step = Effect.suspend(() => {
              waitingSince = Date.now()
              return pull
            }).pipe(
              Effect.matchEffect({
                onFailure: (e) =>
                  Effect.fail(Option.map(e, (err) => new Cut(stalled ? `no data for ${idle} ms` : describeCause(err.cause ?? err)))),
                onSuccess: accept
              })
            )
            return Stream.repeatEffectChunkOption(step)
          }))
        // why the last piece was cut off, until the resume that follows it is asked for
        let cut: string | null = null
        /** One response's body; a cut ends it (noted in `cut`) for `after` to resume. */
        const piece = (opened: Opened, skip: number): Stream.Stream<Uint8Array, GraphError> =>
          Stream.catchTag(segment(opened, skip), "Cut", (c) => {
            cut = c.why
            return Stream.empty
          })
        let started = false
        /**
         * What follows the last piece: a resume, the next range, or the end (None). The pieces run one after
         * another (`Stream.flatten`), each closing its request's scope when it ends, so a download of many
         * pieces holds one request at a time (nesting each piece in the previous one kept them all open).
         */
        const after: Effect.Effect<Stream.Stream<Uint8Array, GraphError>, Option.Option<never>> = Effect.suspend(() => {
          if (!started) {
            started = true
            return Effect.succeed(piece(first, firstSkip))
          }
          if (cut !== null) {
            const why = cut
            cut = null
            return Effect.succeed(resume(why))
          }
          if (rangeEnd !== null && base + delivered < rangeEnd) {
            return Effect.succeed(resume(`the body ended at byte ${base + delivered} before the end of its Content-Range (${rangeEnd})`))
          }
          if (rangeEnd !== null && (total === null || delivered < total)) return Effect.succeed(next())
          if (total !== null && delivered < total) return Effect.succeed(resume(`the body ended after ${delivered} of ${total} bytes`))
          return Effect.fail(Option.none())
        })
        /**
         * Takes an answer to a request for bytes from `at` (absolute) and streams on from there, or
         * fails: a 206 that starts after `at`, or that says the content has another size.
         */
        const adopt = (opened: Opened, at: number, attempts: number): Stream.Stream<Uint8Array, GraphError> => {
          const res = opened.res
          const other = res.headers["etag"]
          if (etag !== undefined && other !== undefined && other !== etag) {
            return Stream.fail(contentError(spec, `the content changed between requests (ETag ${etag} → ${other})`, attempts))
          }
          const otherModified = res.headers["last-modified"]
          if (!strongEtag && lastModified !== undefined && otherModified !== undefined && otherModified !== lastModified) {
            return Stream.fail(
              contentError(spec, `the content changed between requests (Last-Modified ${lastModified} → ${otherModified})`, attempts)
            )
          }
          if (res.status === 206) {
            const range = parseContentRange(res.headers["content-range"])
            if (range === undefined || range.start > at || range.end < at) {
              return Stream.fail(contentError(spec, `asked for bytes from ${at}, answered with Content-Range ${res.headers["content-range"] ?? "(none)"}`, attempts))
            }
            if (total !== null && range.total !== null && range.total !== base + total) {
              return Stream.fail(contentError(spec, `the content changed size between requests (${base + total} → ${range.total})`, attempts))
            }
            if (range.total !== null && range.end + 1 > range.total) {
              return Stream.fail(contentError(spec, `Content-Range ${res.headers["content-range"]} ends after its total`, attempts))
            }
            if (range.total !== null) total = range.total - base
            rangeEnd = range.total !== null && range.end + 1 === range.total ? null : range.end + 1
            return piece(opened, at - range.start)
          }
          // 200: the whole body again; the consumer already has bytes [0, at) of it, which is only true when
          // it carries every validator the first answer had (an If-Range mismatch, or a server that drops
          // them, means other content: skipping `at` bytes of it would splice two versions).
          if ((etag !== undefined && other !== etag) || (!strongEtag && lastModified !== undefined && otherModified !== lastModified)) {
            return Stream.fail(contentError(
              spec,
              `the content changed between requests (a 200 with ETag ${other ?? "(none)"}, Last-Modified ${otherModified ?? "(none)"}; first answered ETag ${etag ?? "(none)"}, Last-Modified ${lastModified ?? "(none)"})`,
              attempts
            ))
          }
          const length = parseLength(res.headers["content-length"])
          if (total !== null && length !== null && length !== base + total) {
            return Stream.fail(contentError(spec, `the content changed size between requests (${base + total} → ${length})`, attempts))
          }
          if (length !== null) total = length - base
          rangeEnd = null
          return piece(opened, at)
        }
        /**
         * A 416 to a request for bytes from `at`: the content ended there (see `endsAt`) when nothing said
         * it goes on (a known total, or a Content-Range end after `at`); otherwise a TransportError, never a
         * short body reported whole.
         */
        const ended = (opened: Opened, at: number, attempts: number): Stream.Stream<Uint8Array, GraphError> => {
          const why = total !== null && delivered < total
            ? `the content is ${base + total} bytes long`
            : rangeEnd !== null && at < rangeEnd
            ? `the previous answer's Content-Range went on to byte ${rangeEnd}`
            : endsAt(opened.res, at, ifRange !== undefined)
          if (why !== true) {
            return Stream.fail(contentError(spec, `asked for bytes from ${at}, answered 416 (range not satisfiable): ${why}`, attempts))
          }
          rangeEnd = null
          return Stream.empty
        }
        /**
         * The previous 206 ended cleanly where its Content-Range said and the content may go on: the next
         * range is asked for (not a resume: nothing was cut). Each answer delivers at least one byte or
         * ends the stream, so this terminates.
         */
        const next = (): Stream.Stream<Uint8Array, GraphError> =>
          Stream.unwrapScoped(
            Effect.gen(function*() {
              const at = base + delivered
              const opened = yield* openIn(spec, at, ifRange)
              if (opened.res.status === 416) {
                yield* opened.abort
                return ended(opened, at, resumes + 1)
              }
              return adopt(opened, at, resumes + 1)
            })
          )
        const resume = (why: string): Stream.Stream<Uint8Array, GraphError> => {
          resumes++
          if (resumes > policy.maxResumes) {
            return Stream.fail(contentError(spec, `body cut short (${why}); gave up after ${policy.maxResumes} resumes`, resumes))
          }
          stats.resumes++
          return Stream.unwrapScoped(
            Effect.gen(function*() {
              yield* Effect.sleep(backoffDelay(resumes, policy, Math.random()))
              const at = base + delivered
              const opened = yield* openIn(spec, at, ifRange)
              if (opened.res.status === 416) {
                yield* opened.abort
                return ended(opened, at, resumes)
              }
              return adopt(opened, at, resumes)
            })
          )
        }
        return Stream.ensuring(Stream.flatten(Stream.repeatEffectOption(after)), reportBytes)
      })

    const openStream = (spec: ContentSpec, offset = 0, ifRange?: string): Effect.Effect<Content, GraphError, Scope.Scope> =>
      Effect.gen(function*() {
        // A download slot and a request slot (a body in flight is a request in flight), freed when the
        // body ends or the scope closes, whichever comes first.
        let holdsDownload = false
        let holdsRequest = false
        const release = Effect.suspend(() => {
          const out: Array<Effect.Effect<void>> = []
          if (holdsRequest) {
            holdsRequest = false
            out.push(limiter.requests.release(1))
          }
          if (holdsDownload) {
            holdsDownload = false
            out.push(limiter.downloads.release(1))
          }
          return Effect.all(out, { discard: true })
        })
        yield* Effect.acquireRelease(Effect.tap(limiter.downloads.take(1), () => (holdsDownload = true)), () => release)
        yield* Effect.acquireRelease(Effect.tap(limiter.requests.take(1), () => (holdsRequest = true)), () => release)
        let asked = offset
        let opened = yield* openIn(spec, asked, ifRange)
        if (opened.res.status === 416) {
          yield* opened.abort
          // The content ends exactly at `offset` (the caller has all of it): an empty stream, nothing asked
          // again. Only a strong If-Range, or a Content-Range naming that length, shows it (see `endsAt`).
          if (endsAt(opened.res, offset, ifRange !== undefined && !ifRange.startsWith("W/")) === true) {
            yield* release
            return {
              contentType: opened.res.headers["content-type"] ?? null,
              contentLength: 0,
              offset,
              etag: opened.res.headers["etag"] ?? null,
              lastModified: opened.res.headers["last-modified"] ?? null,
              stream: Stream.empty
            }
          }
          // Nothing at or after `offset` (the caller's bytes are not a prefix of this content, or it
          // changed): start over without Range. A second 416 is a BadRequest.
          asked = 0
          opened = yield* openIn(spec, 0)
        }
        const res = opened.res
        let total = parseLength(res.headers["content-length"])
        let skip = 0
        // 200: the server sent the whole body (no Range asked, or Range ignored): the stream starts at 0.
        let start = 0
        // where this 206's bytes end when the content may go on after them (see bodyStream)
        let end: number | null = null
        if (res.status === 206) {
          // Accept a range that starts at or before what we asked for (skipping what the caller has);
          // one that starts later would leave a gap.
          const range = parseContentRange(res.headers["content-range"])
          if (range === undefined || range.start > asked || range.end < asked || (range.total !== null && range.end >= range.total)) {
            return yield* Effect.fail(contentError(
              spec,
              asked === 0
                ? "unexpected partial answer to a full request"
                : `asked for bytes from ${asked}, answered with Content-Range ${res.headers["content-range"] ?? "(none)"}`,
              1
            ))
          }
          skip = asked - range.start
          start = asked
          total = range.total === null ? null : range.total - asked
          end = range.total !== null && range.end + 1 === range.total ? null : range.end + 1
          // another process's download continued (see GraphStats.resumes)
          if (asked > 0) stats.resumes++
        }
        return {
          contentType: res.headers["content-type"] ?? null,
          contentLength: total,
          offset: start,
          etag: res.headers["etag"] ?? null,
          lastModified: res.headers["last-modified"] ?? null,
          stream: Stream.ensuring(bodyStream(spec, opened, total, skip, start, end, asked > 0 ? ifRange : undefined), release)
        }
      })

    const collectText = (spec: ContentSpec): Effect.Effect<string, GraphError> =>
      Effect.scoped(
        Effect.flatMap(openStream(spec), (c) =>
          Stream.runFold(c.stream, [] as Array<Uint8Array>, (acc, chunk) => {
            acc.push(chunk)
            return acc
          }).pipe(
            // Keep a BOM if the server sent one: the text must match the bytes.
            Effect.map((parts) => new TextDecoder("utf-8", { ignoreBOM: true }).decode(Buffer.concat(parts)))
          ))
      )

    const contentSpec = (name: string, build: () => Url.GraphRoute, accept: string): Either.Either<ContentSpec, BadRequest> =>
      Either.map(guard("GET", name, build), (route) => ({ name, route, accept }))

    const VTT_ACCEPT = "text/vtt"

    /** A content download from `options.offset` (validated: a non-negative safe integer). */
    const openFrom = (name: string, build: () => Url.GraphRoute, accept: string, options: ContentOptions | undefined) => {
      const offset = options?.offset ?? 0
      if (!Number.isSafeInteger(offset) || offset < 0) {
        return Effect.fail(invalidArgument(`offset must be a non-negative integer, got ${String(offset)}`, "GET", name))
      }
      const ifRange = options?.ifRange
      if (ifRange !== undefined && (ifRange === "" || /[\r\n]/.test(ifRange))) {
        return Effect.fail(invalidArgument("ifRange must be a non-empty header value", "GET", name))
      }
      return Either.match(contentSpec(name, build, accept), {
        onLeft: Effect.fail,
        onRight: (spec) => openStream(spec, offset, options?.ifRange)
      })
    }

    const service: GraphClientService = {
      baseUrl,
      policy,
      listRecordings: (user, call, options?: ListOptions) =>
        pages(
          "listRecordings",
          guard("GET", "listRecordings", () => Url.listArtifacts(baseUrl, user, call, "recordings", options)),
          pageSchemas.recording,
          "CallRecording page"
        ),
      getRecording: (user, call, id) =>
        Either.match(guard("GET", "getRecording", () => Url.artifact(baseUrl, user, call, "recordings", id)), {
          onLeft: Effect.fail,
          onRight: (r) => getJson("getRecording", r, CallRecording, "CallRecording")
        }),
      recordingContent: (user, call, id, options?: ContentOptions) =>
        openFrom("recordingContent", () => Url.artifact(baseUrl, user, call, "recordings", id, "/content"), "*/*", options),
      listTranscripts: (user, call, options?: ListOptions) =>
        pages(
          "listTranscripts",
          guard("GET", "listTranscripts", () => Url.listArtifacts(baseUrl, user, call, "transcripts", options)),
          pageSchemas.transcript,
          "CallTranscript page"
        ),
      getTranscript: (user, call, id) =>
        Either.match(guard("GET", "getTranscript", () => Url.artifact(baseUrl, user, call, "transcripts", id)), {
          onLeft: Effect.fail,
          onRight: (r) => getJson("getTranscript", r, CallTranscript, "CallTranscript")
        }),
      transcriptContent: (user, call, id) =>
        Either.match(contentSpec("transcriptContent", () => Url.transcriptContent(baseUrl, user, call, id), VTT_ACCEPT), {
          onLeft: Effect.fail,
          onRight: collectText
        }),
      transcriptContentStream: (user, call, id, options?: ContentOptions) =>
        openFrom("transcriptContent", () => Url.transcriptContent(baseUrl, user, call, id), VTT_ACCEPT, options),
      transcriptMetadataContent: (user, call, id) =>
        Either.match(
          contentSpec(
            "transcriptMetadataContent",
            () => Url.artifact(baseUrl, user, call, "transcripts", id, "/metadataContent"),
            "text/vtt, application/json;q=0.9, */*;q=0.8"
          ),
          { onLeft: Effect.fail, onRight: collectText }
        ),
      getAllRecordings: (w) =>
        pages("getAllRecordings", guard("GET", "getAllRecordings", () => Url.getAllArtifacts(baseUrl, "recordings", w)), pageSchemas.recording, "CallRecording page"),
      getAllTranscripts: (w) =>
        pages("getAllTranscripts", guard("GET", "getAllTranscripts", () => Url.getAllArtifacts(baseUrl, "transcripts", w)), pageSchemas.transcript, "CallTranscript page"),
      getAllRecordingsDelta: (start) =>
        deltaPages("getAllRecordingsDelta", start, (w: Url.OrganizerWindow) => Url.getAllArtifacts(baseUrl, "recordings", w, true), pageSchemas.recording, "CallRecording delta page"),
      getAllTranscriptsDelta: (start) =>
        deltaPages("getAllTranscriptsDelta", start, (w: Url.OrganizerWindow) => Url.getAllArtifacts(baseUrl, "transcripts", w, true), pageSchemas.transcript, "CallTranscript delta page"),
      getAllAdhocRecordings: (w) =>
        pages("getAllAdhocRecordings", guard("GET", "getAllAdhocRecordings", () => Url.getAllAdhocArtifacts(baseUrl, "recordings", w)), pageSchemas.recording, "CallRecording page"),
      getAllAdhocTranscripts: (w) =>
        pages("getAllAdhocTranscripts", guard("GET", "getAllAdhocTranscripts", () => Url.getAllAdhocArtifacts(baseUrl, "transcripts", w)), pageSchemas.transcript, "CallTranscript page"),
      getAllAdhocRecordingsDelta: (start) =>
        deltaPages("getAllAdhocRecordingsDelta", start, (w: Url.AdhocWindow) => Url.getAllAdhocArtifacts(baseUrl, "recordings", w, true), pageSchemas.recording, "CallRecording delta page"),
      getAllAdhocTranscriptsDelta: (start) =>
        deltaPages("getAllAdhocTranscriptsDelta", start, (w: Url.AdhocWindow) => Url.getAllAdhocArtifacts(baseUrl, "transcripts", w, true), pageSchemas.transcript, "CallTranscript delta page"),
      getMeeting: (user, meetingId) =>
        Either.match(guard("GET", "getMeeting", () => Url.meeting(baseUrl, user, meetingId)), {
          onLeft: Effect.fail,
          onRight: (r) => getJson("getMeeting", r, OnlineMeeting, "OnlineMeeting")
        }),
      findMeetingsByJoinUrl: (user, joinWebUrl) =>
        Effect.map(
          Stream.runCollect(
            pages<OnlineMeeting>("findMeetingsByJoinUrl", guard("GET", "findMeetingsByJoinUrl", () => Url.meetingByJoinUrl(baseUrl, user, joinWebUrl)), pageSchemas.meeting, "OnlineMeeting page")
          ),
          Chunk.toReadonlyArray
        ),
      getMeetingByJoinUrl: (user, joinWebUrl) =>
        Effect.flatMap(service.findMeetingsByJoinUrl(user, joinWebUrl), (meetings) =>
          meetings.length > 0
            ? Effect.succeed(meetings[0])
            : Effect.fail(
              new NotFound({
                status: 404,
                code: "NotFound",
                innerCode: null,
                requestId: null,
                clientRequestId: null,
                method: "GET",
                route: "/onlineMeetings?$filter=JoinWebUrl",
                message: "No online meeting has this join URL for the user in the path (meetings expire 60 days after they end)."
              })
            )),
      stats: Effect.sync((): GraphStats => ({ ...stats }))
    }
    return service
  })

export const makeFromConfig = (options?: {
  readonly baseUrl?: Config.Config<string> | undefined
  readonly accessToken?: Config.Config<Option.Option<Redacted.Redacted<string>>> | undefined
  readonly policy?: Partial<GraphPolicy> | undefined
}): Effect.Effect<GraphClientService, ConfigError.ConfigError | BadRequest, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const baseUrl = yield* (options?.baseUrl ?? Config.string("GRAPH_BASE_URL").pipe(Config.withDefault(Url.DEFAULT_BASE_URL)))
    const token = yield* (options?.accessToken ?? Config.option(Config.redacted("GRAPH_ACCESS_TOKEN")))
    // Loaded only when needed: @azure/identity (MSAL) is a large module graph.
    const credential = Option.isSome(token)
      ? token.value
      : yield* Effect.promise(() => import("@azure/identity").then((m) => new m.DefaultAzureCredential()))
    return yield* make({ baseUrl, credential, policy: options?.policy })
  })
