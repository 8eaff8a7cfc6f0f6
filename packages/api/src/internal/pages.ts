/**
 * JSON answers: single resources, OData paging (`@odata.nextLink`) and delta paging
 * (`@odata.deltaLink`), with items decoded one by one when an `InvalidItem` handler is installed.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { CallRecording, MAX_ID_LENGTH } from "../CallRecording.js"
import { CallTranscript } from "../CallTranscript.js"
import type { DeltaEvent, DeltaStart } from "../GraphClient.js"
import { type BadRequest, DecodeError, type GraphError } from "../GraphError.js"
import { type BodyPull, nodeSource, pullBody } from "./nodeBody.js"
import type { Answer } from "./nodeSend.js"
import * as Url from "../GraphUrl.js"
import { currentInvalidItemHandler, type InvalidItem } from "../InvalidItem.js"
import { ODataPage } from "../ODataPage.js"
import { OnlineMeeting } from "../OnlineMeeting.js"
import { Subscription } from "../Subscription.js"
import { decodeError, describeCause, type ErrorContext, invalidArgument, transportCause } from "./errors.js"
import { type ClientCore, ERROR_BODY_LIMIT, type Method, readBounded, run } from "./request.js"

/** A request that changes something: its method, JSON body, and whether it may be repeated. */
export interface Write {
  readonly method: Method
  readonly body?: unknown
  readonly idempotent?: boolean | undefined
}

/** A resource the client lists or gets, with its page schema and item decoder (built once per module). */
export interface Resource<A> {
  readonly name: InvalidItem["resource"]
  readonly schema: Schema.Schema<A, any>
  readonly page: Schema.Schema<ODataPage<A>, any>
  readonly decodeItem: (u: unknown) => Either.Either<A, ParseResult.ParseError>
}

const resource = <A, I>(name: InvalidItem["resource"], schema: Schema.Schema<A, I>): Resource<A> => ({
  name,
  schema,
  page: ODataPage(schema) as Schema.Schema<ODataPage<A>, any>,
  decodeItem: Schema.decodeUnknownEither(schema)
})

export const resources = {
  recording: resource("CallRecording", CallRecording),
  transcript: resource("CallTranscript", CallTranscript),
  meeting: resource("OnlineMeeting", OnlineMeeting),
  subscription: resource("Subscription", Subscription)
}

/** A page whose items are left undecoded, for item-by-item decoding. */
const decodeLoosePage = Schema.decodeUnknown(ODataPage(Schema.Unknown))

export const decodeFailure = (
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
    : [...at, ...first.path].map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
      .join("")
  const what = `does not have the expected shape at ${field === "" ? "the top level" : `"${field}"`}: ${
    clip(first?.message ?? e.message)
  }`
  return decodeError({ status, payload, field, what, ctx, requestId })
}

/** Payload text echoed in messages (parse issues quote the value they saw) is cut to this many characters. */
const ECHO_LIMIT = 200

const clip = (
  text: string
): string => (text.length <= ECHO_LIMIT ? text : `${text.slice(0, ECHO_LIMIT)}… (${text.length} characters)`)

/** An id from a payload, kept for refetching only when it is a plausible Graph id. */
const idOf = (u: unknown): string | null => (typeof u === "string" && u.length <= MAX_ID_LENGTH ? u : null)

/** A route built from caller input, or the BadRequest its builder threw. */
export const guard = <A>(method: string, routeName: string, build: () => A): Either.Either<A, BadRequest> => {
  try {
    return Either.right(build())
  } catch (e) {
    if (e instanceof Url.InvalidArgument) return Either.left(invalidArgument(e.message, method, routeName))
    throw e
  }
}

/** Decodes a page item by item: a malformed item goes to the handler, the rest of the page is kept. */
const decodeItems = <A>(
  json: unknown,
  item: Resource<A>,
  onInvalid: (invalid: InvalidItem) => Effect.Effect<void>,
  payload: string,
  status: number,
  ctx: ErrorContext,
  requestId: string | null
): Effect.Effect<ODataPage<A>, DecodeError> =>
  Effect.gen(function*() {
    const page = yield* Effect.either(decodeLoosePage(json))
    if (Either.isLeft(page)) return yield* Effect.fail(decodeFailure(page.left, payload, status, ctx, requestId))
    const value: Array<A> = []
    const raw = page.right.value
    for (let i = 0; i < raw.length; i++) {
      const one = item.decodeItem(raw[i])
      if (Either.isRight(one)) {
        value.push(one.right)
        continue
      }
      const error = decodeFailure(one.left, payload, status, ctx, requestId, ["value", i])
      const fields = (typeof raw[i] === "object" && raw[i] !== null ? raw[i] : {}) as {
        id?: unknown
        meetingId?: unknown
      }
      yield* onInvalid({
        route: ctx.route,
        payload,
        resource: item.name,
        index: i,
        id: idOf(fields.id),
        meetingId: idOf(fields.meetingId),
        error
      })
    }
    return { ...page.right, value } as ODataPage<A>
  })

/** A JSON body as text, or null when it is larger than `limit` bytes (then it is not read any further). */
const readJson = (res: Answer, limit: number): Effect.Effect<string | null, unknown> => {
  // a declared length over the limit: stop before the first chunk
  const declared = Number(res.headers["content-length"] ?? 0)
  const source = declared > limit ? undefined : nodeSource(res)
  if (source !== undefined) return Effect.scoped(Effect.flatMap(pullBody(source), (pull) => pullText(pull, limit)))
  return res.stream.pipe(
    Stream.runFoldWhile(
      { parts: [] as Array<Uint8Array>, size: declared > limit ? declared : 0 },
      (s) => s.size <= limit,
      (s, chunk) => {
        s.parts.push(chunk)
        s.size += chunk.length
        return s
      }
    ),
    Effect.map((s) => (s.size > limit ? null : Buffer.concat(s.parts, s.size).toString("utf8")))
  )
}

/**
 * A Node message's body pulled directly (nodeBody.ts) as text, or null past `limit` bytes: a page's
 * body comes in a pull or two, where the platform's stream of it and a fold over it ran ~400 run-loop
 * steps (a Channel, fibers) per page.
 */
const pullText = (pull: BodyPull, limit: number): Effect.Effect<string | null, unknown> => {
  const parts: Array<Uint8Array> = []
  let size = 0
  const next: Effect.Effect<string | null, unknown> = Effect.matchEffect(pull, {
    onFailure: (e) =>
      Option.isSome(e) ? Effect.fail(e.value) : Effect.succeed(Buffer.concat(parts, size).toString("utf8")),
    onSuccess: (chunk) => {
      for (const c of chunk) {
        parts.push(c)
        size += c.length
      }
      return size > limit ? Effect.succeed(null) : next
    }
  })
  return next
}

const tooLarge = (
  payload: string,
  limit: number,
  status: number,
  ctx: ErrorContext,
  requestId: string | null
): DecodeError =>
  decodeError({
    status,
    payload,
    field: "",
    what: `is larger than ${limit} bytes (GraphPolicy.maxJsonBytes); refused without reading it`,
    ctx,
    requestId
  })

/**
 * GET a JSON body and decode it with `schema`; with `pageOf` (a listing) and an `InvalidItem` handler
 * installed, item by item.
 */
export const getJson = <A>(
  core: ClientCore,
  name: string,
  route: Url.GraphRoute,
  schema: Schema.Schema<A, any>,
  payload: string,
  pageOf?: Resource<unknown>
): Effect.Effect<A, GraphError> => jsonRequest(core, name, route, schema, payload, pageOf, undefined)

/** A write (POST/PATCH) whose answer is a JSON body decoded with `schema`. */
export const writeJson = <A>(
  core: ClientCore,
  name: string,
  route: Url.GraphRoute,
  schema: Schema.Schema<A, any>,
  payload: string,
  write: Write
): Effect.Effect<A, GraphError> => jsonRequest(core, name, route, schema, payload, undefined, write)

/** A write whose answer has no body worth reading (204 No Content, or a 2xx body ignored). */
export const writeNoContent = (
  core: ClientCore,
  name: string,
  route: Url.GraphRoute,
  payload: string,
  write: Write
): Effect.Effect<void, GraphError> =>
  run<void, never>(core, {
    name,
    url: route.url,
    route: route.route,
    accept: "application/json",
    payload,
    method: write.method,
    body: write.body,
    idempotent: write.idempotent,
    okStatus: (s) => s >= 200 && s < 300,
    onOk: (res) => Effect.as(readBounded(res, ERROR_BODY_LIMIT), { _tag: "Value", value: undefined } as const)
  }, core.execPlain)

const jsonRequest = <A>(
  core: ClientCore,
  name: string,
  route: Url.GraphRoute,
  schema: Schema.Schema<A, any>,
  payload: string,
  pageOf: Resource<unknown> | undefined,
  write: Write | undefined
): Effect.Effect<A, GraphError> => {
  const decode = Schema.decodeUnknown(schema)
  return run<A, never>(core, {
    name,
    url: route.url,
    route: route.route,
    accept: "application/json",
    payload,
    method: write?.method,
    body: write?.body,
    idempotent: write?.idempotent,
    okStatus: (s) => s >= 200 && s < 300,
    onOk: (res, ctx, requestId) =>
      Effect.gen(function*() {
        const text = yield* Effect.either(readJson(res, core.policy.maxJsonBytes))
        if (Either.isLeft(text)) return { _tag: "Transport", why: describeCause(transportCause(text.left)) } as const
        if (text.right === null) {
          return yield* Effect.fail(tooLarge(payload, core.policy.maxJsonBytes, res.status, ctx, requestId))
        }
        let json: unknown
        try {
          json = JSON.parse(text.right)
        } catch (e) {
          return { _tag: "Malformed", why: (e as Error).message } as const
        }
        const onInvalid = pageOf === undefined ? null : yield* FiberRef.get(currentInvalidItemHandler)
        if (pageOf !== undefined && onInvalid !== null) {
          const page = yield* decodeItems(json, pageOf, onInvalid, payload, res.status, ctx, requestId)
          return { _tag: "Value", value: page as A } as const
        }
        const decoded = yield* Effect.either(decode(json))
        if (Either.isLeft(decoded)) {
          return yield* Effect.fail(decodeFailure(decoded.left, payload, res.status, ctx, requestId))
        }
        return { _tag: "Value", value: decoded.right } as const
      })
  }, core.execPlain)
}

/** A link from a payload, refused unless it points at the client's own origin (the token goes with it). */
const checkLink = (core: ClientCore, link: string, route: string, what: string): Effect.Effect<string, GraphError> => {
  let origin: string
  try {
    origin = new URL(link).origin
  } catch {
    return Effect.fail(invalidArgument(`${what} is not an absolute URL`, "GET", route))
  }
  return origin === core.baseOrigin
    ? Effect.succeed(link)
    : Effect.fail(
      invalidArgument(
        `${what} points to ${origin}, not ${core.baseOrigin}; refusing to send credentials there`,
        "GET",
        route
      )
    )
}

const getPage = <A>(core: ClientCore, name: string, route: Url.GraphRoute, item: Resource<A>, payload: string) =>
  getJson(core, name, route, item.page, payload, item as Resource<unknown>)

/** Every item of a listing, page after page. */
export const pages = <A>(
  core: ClientCore,
  name: string,
  first: Either.Either<Url.GraphRoute, BadRequest>,
  item: Resource<A>
): Stream.Stream<A, GraphError> => {
  if (Either.isLeft(first)) return Stream.fail(first.left)
  const route = first.right.route
  const payload = `${item.name} page`
  return Stream.paginateChunkEffect(first.right.url, (url) =>
    getPage(core, name, { url, route }, item, payload).pipe(
      Effect.flatMap((page) => {
        const next = page["@odata.nextLink"]
        // An empty page with a nextLink means "keep going", not "done".
        if (next === undefined || next === null) {
          return Effect.succeed([Chunk.fromIterable(page.value), Option.none<string>()] as const)
        }
        return Effect.map(checkLink(core, next, route, "@odata.nextLink"), (n) =>
          [Chunk.fromIterable(page.value), Option.some(n)] as const)
      })
    ))
}

/** Every item of a delta listing, then its deltaLink; from a window, or replaying a stored deltaLink. */
export const deltaPages = <A, W>(
  core: ClientCore,
  name: string,
  start: DeltaStart<W>,
  build: (w: W) => Url.GraphRoute,
  item: Resource<A>
): Stream.Stream<DeltaEvent<A>, GraphError> => {
  let first: Either.Either<Url.GraphRoute, BadRequest>
  if (start !== null && typeof start === "object" && "deltaLink" in start && typeof start.deltaLink === "string") {
    first = Either.right({ url: start.deltaLink, route: Url.routeOfLink(core.baseUrl, start.deltaLink) })
  } else {
    first = guard("GET", name, () => build(start as W))
  }
  if (Either.isLeft(first)) return Stream.fail(first.left)
  const route = first.right.route
  const payload = `${item.name} delta page`
  type S = Option.Option<string>
  return Stream.paginateChunkEffect(Option.some(first.right.url) as S, (state) =>
    Option.isNone(state)
      ? Effect.succeed([Chunk.empty<DeltaEvent<A>>(), Option.none<S>()] as const)
      : checkLink(core, state.value, route, "delta link").pipe(
        Effect.flatMap((url) => getPage(core, name, { url, route }, item, payload)),
        Effect.flatMap((page) => {
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
