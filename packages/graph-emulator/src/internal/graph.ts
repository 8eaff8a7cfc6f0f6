/**
 * The Graph surface: routing, auth, paging, payloads, content and the faults layered on top.
 * Routing is done here on the raw request path (not by the router's pattern matcher) because Graph
 * paths carry OData function calls and percent-encoded ids that must be decoded segment by segment.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Effect from "effect/Effect"
import * as NodeCrypto from "node:crypto"
import * as NodeFs from "node:fs"
import type { MutableCounters } from "../Counters.js"
import type { FaultKind, RouteName } from "../Faults.js"
import type { FixtureRecording, FixtureTranscript, FixtureUser } from "../Fixture.js"
import type { TenantPolicy } from "../Policy.js"
import {
  type CallRecordingPayload,
  type CallTranscriptPayload,
  callRecordingKeys,
  callTranscriptKeys,
  type IdentitySetPayload
} from "../Payloads.js"
import { type ContentSource, sizeOf, writeRange } from "./content.js"
import type { FaultEngine } from "./faults.js"
import { hash32 } from "./prng.js"
import type { ArtifactEntry, MeetingEntry, TenantState } from "./state.js"
import { SubscriptionFailure } from "./subscriptionRequest.js"
import { type Caller, subscriptionPayload, type SubscriptionStore } from "./subscriptions.js"
import { openState, sealState, type TokenClaims, verifyToken } from "./tokens.js"

export interface GraphRuntime {
  readonly state: TenantState
  readonly subscriptions: SubscriptionStore
  readonly secret: Buffer
  readonly counters: MutableCounters
  readonly faults: FaultEngine
  readonly pageSize: number
  /** origin of the second (content redirect) listener */
  readonly secondOrigin: () => string
  /** "http" or "https" (links are built from the Host header and this) */
  readonly scheme: () => string
  readonly policy: () => TenantPolicy
  /** the rate limiter's clock (`EmulatorOptions.now`) */
  readonly now: () => number
  /** the test hook of `EmulatorOptions.onRequest` */
  readonly onRequest: ((request: RequestSeen) => void | Promise<void>) | undefined
}

/** What `EmulatorOptions.onRequest` is told about an authenticated Graph request, before it is answered. */
export interface RequestSeen {
  readonly route: RouteName
  readonly method: string
  readonly url: string
}

export const JSON_TYPE =
  "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

const TIPS = (what: string) =>
  `Use $select to choose only the properties your app needs, as this can lead to performance improvements. For example: GET me/onlineMeetings('<key>')/${what}?$select=callId,content`

// Properties $select accepts: the payload keys plus the streams.
const RECORDING_PROPS: ReadonlyArray<string> = [...callRecordingKeys, "content"]
const TRANSCRIPT_PROPS: ReadonlyArray<string> = [...callTranscriptKeys, "content", "metadataContent"]

/** A Graph error ready to send. */
export class GraphFailure {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly message: string,
    readonly headers: Record<string, string> = {},
    readonly innerCode?: string
  ) {}
}

interface Ctx {
  readonly rt: GraphRuntime
  readonly request: HttpServerRequest.HttpServerRequest
  readonly requestId: string
  readonly clientRequestId: string
  readonly origin: string
  readonly version: string
  readonly rawPath: string
  readonly query: URLSearchParams
  readonly rawQuery: string
  /** headers every response carries (request-id, client-request-id, ...) */
  readonly common: Record<string, string>
}

export const errorBody = (
  code: string,
  message: string,
  requestId: string,
  clientRequestId: string,
  innerCode?: string
) =>
  JSON.stringify({
    error: {
      code,
      message,
      innerError: {
        date: new Date().toISOString().replace(/\.\d{3}Z$/, ""),
        "request-id": requestId,
        "client-request-id": clientRequestId,
        ...(innerCode === undefined ? {} : { code: innerCode })
      }
    }
  })

const failureResponse = (f: GraphFailure, requestId: string, clientRequestId: string) =>
  HttpServerResponse.text(errorBody(f.code, f.message, requestId, clientRequestId, f.innerCode), {
    status: f.status,
    contentType: "application/json",
    headers: f.headers
  })

const jsonResponse = (body: unknown, status = 200) =>
  HttpServerResponse.text(JSON.stringify(body), { status, contentType: JSON_TYPE, headers: { "odata-version": "4.0" } })

const badRequest = (message: string) => new GraphFailure(400, "BadRequest", message)
const notFound = (message: string) => new GraphFailure(404, "NotFound", message)

/** Parses `name eq 'value'` ($filter); names compared case-insensitively. */
const parseEqFilter = (filter: string): { name: string; value: string } | undefined => {
  const m = /^\s*([A-Za-z][A-Za-z0-9]*)\s+eq\s+'((?:[^']|'')*)'\s*$/.exec(filter)
  return m ? { name: m[1]!.toLowerCase(), value: m[2]!.replace(/''/g, "'") } : undefined
}

/** `name(a='x',b=2024-01-01T00:00:00Z)` → { name, params } */
const parseFunctionCall = (segment: string): { name: string; params: Map<string, string> | undefined } | undefined => {
  const m = /^([A-Za-z]+)(?:\((.*)\))?$/s.exec(segment)
  if (!m) return undefined
  if (m[2] === undefined) return { name: m[1]!, params: undefined }
  const params = new Map<string, string>()
  const body = m[2]
  let i = 0
  while (i < body.length) {
    const eq = body.indexOf("=", i)
    if (eq < 0) return { name: m[1]!, params: new Map([["__invalid", body]]) }
    const key = body.slice(i, eq).trim()
    let j = eq + 1
    let value = ""
    if (body[j] === "'") {
      j++
      while (j < body.length) {
        if (body[j] === "'" && body[j + 1] === "'") {
          value += "'"
          j += 2
        } else if (body[j] === "'") {
          j++
          break
        } else value += body[j++]
      }
    } else {
      const comma = body.indexOf(",", j)
      const end = comma < 0 ? body.length : comma
      value = body.slice(j, end).trim()
      j = end
    }
    params.set(key.toLowerCase(), value)
    while (j < body.length && body[j] !== ",") j++
    i = j + 1
  }
  return { name: m[1]!, params }
}

const identitySet = (
  entry: { fixture: { meetingOrganizer?: unknown } },
  organizerId: string,
  tenantId: string
): IdentitySetPayload =>
  entry.fixture.meetingOrganizer !== undefined
    ? entry.fixture.meetingOrganizer as IdentitySetPayload
    : {
      application: null,
      device: null,
      user: {
        "@odata.type": "#microsoft.graph.teamworkUserIdentity",
        id: organizerId,
        displayName: null,
        userIdentityType: "aadUser",
        tenantId
      }
    }

export const artifactPayload = (
  entry: ArtifactEntry,
  origin: string,
  version: string,
  tenantId: string
): CallRecordingPayload | CallTranscriptPayload | AdhocArtifactPayload => {
  const f = entry.fixture
  const adhoc = entry.container === "adhocCall"
  const base = adhoc
    ? `${origin}/${version}/users/${entry.organizerId}/adhocCalls/${entry.meetingId}`
    : `${origin}/${version}/users/${entry.organizerId}/onlineMeetings/${entry.meetingId}`
  // ad hoc calls are not online meetings: no meetingId; their artifacts' callId is the call's id
  const callId = f.callId !== undefined ? f.callId : adhoc ? entry.meetingId : undefined
  const optional = {
    ...(callId !== undefined ? { callId } : {}),
    ...(f.contentCorrelationId !== undefined ? { contentCorrelationId: f.contentCorrelationId } : {})
  }
  const times = {
    createdDateTime: f.createdDateTime,
    ...(f.endDateTime !== undefined ? { endDateTime: f.endDateTime } : {})
  }
  const meetingOrganizer = identitySet(entry, entry.organizerId, tenantId)
  const extra = f.extra ?? {}
  const owner = adhoc ? {} : { meetingId: entry.meetingId }
  if (entry.kind === "recording") {
    const r = f as FixtureRecording
    const payload = {
      id: f.id,
      ...owner,
      ...optional,
      ...times,
      recordingContentUrl: r.recordingContentUrl !== undefined
        ? r.recordingContentUrl
        : `${base}/recordings/${f.id}/content`,
      meetingOrganizer
    }
    return { ...payload, ...extra } as CallRecordingPayload | AdhocArtifactPayload
  }
  const t = f as FixtureTranscript
  const payload = {
    id: f.id,
    ...owner,
    ...optional,
    ...times,
    transcriptContentUrl: t.transcriptContentUrl !== undefined
      ? t.transcriptContentUrl
      : `${base}/transcripts/${f.id}/content`,
    meetingOrganizer
  }
  return { ...payload, ...extra } as CallTranscriptPayload | AdhocArtifactPayload
}

/** An ad hoc call's recording or transcript: as a meeting's, without `meetingId`. */
type AdhocArtifactPayload =
  | Omit<CallRecordingPayload, "meetingId">
  | Omit<CallTranscriptPayload, "meetingId">

const threadIdOf = (meetingId: string): string | null => {
  try {
    const decoded = Buffer.from(meetingId, "base64").toString("utf8")
    const i = decoded.indexOf("**")
    return i >= 0 && decoded.endsWith("@thread.v2") ? decoded.slice(i + 2) : null
  } catch {
    return null
  }
}

export const meetingPayload = (m: MeetingEntry, tenantId: string, organizer: FixtureUser | undefined) => {
  const f = m.fixture
  return {
    id: f.id,
    creationDateTime: f.creationDateTime ?? f.startDateTime ?? null,
    startDateTime: f.startDateTime ?? null,
    endDateTime: f.endDateTime ?? null,
    joinWebUrl: f.joinWebUrl ?? null,
    subject: f.subject ?? null,
    isBroadcast: false,
    chatInfo: { threadId: threadIdOf(f.id), messageId: "0", replyChainMessageId: null },
    joinMeetingIdSettings: null,
    participants: {
      organizer: {
        upn: organizer?.userPrincipalName ?? null,
        role: "presenter",
        identity: {
          application: null,
          device: null,
          user: { id: f.organizerId, displayName: null, tenantId, identityProvider: "AAD" }
        }
      },
      attendees: []
    }
  }
}

const applySelect = (payload: object, select: ReadonlyArray<string> | undefined) => {
  if (select === undefined) return payload
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(payload)) {
    if (k === "id" || select.some((s) => s.toLowerCase() === k.toLowerCase())) out[k] = v
  }
  return out
}

const parseSelect = (ctx: Ctx, kind: "recording" | "transcript"): Array<string> | undefined => {
  const raw = ctx.query.get("$select")
  if (raw === null) return undefined
  const props = raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
  const known = kind === "recording" ? RECORDING_PROPS : TRANSCRIPT_PROPS
  for (const p of props) {
    if (!known.some((k) => k.toLowerCase() === p.toLowerCase())) {
      throw new GraphFailure(
        400,
        "BadRequest",
        `Could not find a property named '${p}' on type 'microsoft.graph.${
          kind === "recording" ? "callRecording" : "callTranscript"
        }'.`
      )
    }
  }
  return props
}

const parseTop = (ctx: Ctx): number | undefined => {
  const raw = ctx.query.get("$top")
  if (raw === null) return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0) throw badRequest(`Invalid value '${raw}' for $top query option found.`)
  return Math.min(n, 100)
}

const filterOf = (ctx: Ctx): (a: ArtifactEntry) => boolean => {
  const raw = ctx.query.get("$filter")
  if (raw === null) return () => true
  const f = parseEqFilter(raw)
  if (!f || f.name !== "contentcorrelationid") throw badRequest(`Invalid filter clause: ${raw}`)
  return (a) => a.fixture.contentCorrelationId === f.value
}

interface PageState {
  /** offset */
  readonly o: number
  /** snapshot: highest sequence number included */
  readonly m: number
  /** delta: lowest sequence number excluded */
  readonly s?: number
  /** path hash: a token only works on the URL that issued it */
  readonly p: number
  /** this position was already served as an empty page once */
  readonly e?: 1
}

const linkWith = (ctx: Ctx, param: "$skiptoken" | "$deltatoken", token: string, path = ctx.rawPath) => {
  const q = new URLSearchParams(ctx.rawQuery)
  q.delete("$skiptoken")
  q.delete("$deltatoken")
  q.set(param, token)
  // keep `$` literal like Graph's links (URLSearchParams would encode it as %24)
  return `${ctx.origin}${path}?${q.toString().replace(/%24/g, "$")}`
}

/** Resolves the page requested: snapshot bounds and offset, from $skiptoken / $deltatoken or fresh. */
const pageState = (ctx: Ctx, pathKey: number, delta: boolean, fault: FaultKind | undefined): PageState => {
  const skip = ctx.query.get("$skiptoken")
  const deltaToken = ctx.query.get("$deltatoken")
  const token = skip ?? deltaToken
  if (token === null) return { o: 0, m: ctx.rt.state.seq, p: pathKey, ...(delta ? { s: 0 } : {}) }
  const st = openState<PageState & { d?: 1 }>(ctx.rt.secret, token)
  if (!st || st.p !== pathKey || (deltaToken !== null && st.d !== 1)) {
    throw badRequest(deltaToken !== null ? "Invalid delta token." : "Invalid skip token.")
  }
  if (deltaToken !== null) {
    let since = st.s ?? 0
    if (fault === "deltaDuplicates") {
      ctx.rt.counters.bump(ctx.rt.counters.faults, "deltaDuplicates")
      since = Math.max(0, since - 3)
    }
    return { o: 0, s: since, m: ctx.rt.state.seq, p: pathKey }
  }
  return st
}

interface PageOptions {
  readonly items: ReadonlyArray<ArtifactEntry>
  readonly context: string
  readonly count?: boolean
  readonly tips?: string
  readonly delta: boolean
  readonly kind: "recording" | "transcript"
  readonly fault: FaultKind | undefined
  readonly pathKey: number
}

const servePage = (ctx: Ctx, opts: PageOptions) => {
  const select = parseSelect(ctx, opts.kind)
  const top = parseTop(ctx)
  const st = pageState(ctx, opts.pathKey, opts.delta, opts.fault)
  const matching = opts.items.filter((a) => a.seq <= st.m && (st.s === undefined || a.seq > st.s))
  const size = top ?? ctx.rt.pageSize
  const head: Record<string, unknown> = { "@odata.context": opts.context }
  if (opts.count) head["@odata.count"] = matching.length
  if (opts.tips !== undefined && select === undefined) head["@microsoft.graph.tips"] = opts.tips
  if (opts.fault === "emptyPage" && st.e !== 1) {
    ctx.rt.counters.bump(ctx.rt.counters.faults, "emptyPage")
    return jsonResponse({
      ...head,
      "@odata.nextLink": linkWith(ctx, "$skiptoken", sealState(ctx.rt.secret, { ...st, e: 1 })),
      value: []
    })
  }
  const slice = matching.slice(st.o, st.o + size)
  const value = slice.map((a) =>
    applySelect(artifactPayload(a, ctx.origin, ctx.version, ctx.rt.state.tenantId), select)
  )
  const body: Record<string, unknown> = { ...head }
  const nextOffset = st.o + slice.length
  // Graph's documented delta quirk: $top drops the nextLink, so only the first page is seen
  const truncatedByTopOnDelta = opts.delta && top !== undefined
  if (nextOffset < matching.length && !truncatedByTopOnDelta) {
    const next: PageState = { o: nextOffset, m: st.m, p: st.p, ...(st.s !== undefined ? { s: st.s } : {}) }
    body["@odata.nextLink"] = linkWith(ctx, "$skiptoken", sealState(ctx.rt.secret, next))
  } else if (opts.delta) {
    body["@odata.deltaLink"] = linkWith(
      ctx,
      "$deltatoken",
      sealState(ctx.rt.secret, { o: 0, s: st.m, m: st.m, p: st.p, d: 1 })
    )
  }
  body.value = value
  if (opts.fault === "malformedJson") {
    ctx.rt.counters.bump(ctx.rt.counters.faults, "malformedJson")
    const text = JSON.stringify(body)
    return HttpServerResponse.text(text.slice(0, Math.max(1, Math.floor(text.length / 2))), {
      status: 200,
      contentType: JSON_TYPE
    })
  }
  return jsonResponse(body)
}

/** A position already served empty once is never emptied again (bounds the empty-page fault). */
const pagedExclude = (ctx: Ctx): ReadonlyArray<FaultKind> => {
  const token = ctx.query.get("$skiptoken")
  const st = token === null ? undefined : openState<PageState>(ctx.rt.secret, token)
  return st?.e === 1 ? ["emptyPage"] : []
}

interface Range {
  readonly start: number
  readonly end: number
}

/** A single `bytes=` range; undefined means serve everything, "unsatisfiable" means 416. */
const parseRange = (header: string | undefined, size: number): Range | undefined | "unsatisfiable" => {
  if (header === undefined) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!m || (m[1] === "" && m[2] === "")) return undefined
  if (m[1] === "") {
    const n = Number(m[2])
    if (n === 0) return "unsatisfiable"
    return { start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(m[1])
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1)
  if (start >= size || end < start) return "unsatisfiable"
  return { start, end }
}

/**
 * A strong ETag of an artifact's content: stable for the same bytes (id + generator seed + size, the
 * file's path + size + mtime, or the inline bytes), different when any of them changes.
 */
const contentETag = (id: string, source: ContentSource): string => {
  const h = NodeCrypto.createHash("sha256").update(id, "utf8").update("\0")
  if (source._tag === "Generated") h.update(`generated:${source.seed}:${source.size}`)
  else if (source._tag === "File") {
    const mtime = NodeFs.statSync(source.path, { throwIfNoEntry: false })?.mtimeMs ?? 0
    h.update(`file:${source.path}:${source.size}:${mtime}`)
  } else h.update(source.bytes)
  return `"${h.digest("hex").slice(0, 32)}"`
}

/**
 * Content with Content-Length, a strong ETag, optional Range (206) honoured only when `If-Range` (if
 * sent) equals the ETag (otherwise 200 and the whole body, as RFC 9110 says) and the mid-body reset
 * fault. The body is written straight to the node response (see `writeRange`): socket-level control
 * for the reset, and recycled buffers so any size costs constant memory.
 */
export const contentResponse = (
  rt: GraphRuntime,
  request: HttpServerRequest.HttpServerRequest,
  counterKey: string,
  source: ContentSource,
  contentType: string,
  reset: boolean,
  common: Record<string, string>
): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.suspend(() => {
    const size = sizeOf(source)
    const rangeHeader = request.headers["range"]
    if (rangeHeader !== undefined) (rt.counters.contentRanges[counterKey] ??= []).push(rangeHeader)
    const etag = contentETag(counterKey, source)
    // If-Range: only this exact strong ETag lets the Range apply (a date never matches: no Last-Modified is sent).
    const ifRange = request.headers["if-range"]
    const rangeApplies = rt.faults.config.ignoreRange !== true && (ifRange === undefined || ifRange.trim() === etag)
    const range = rangeApplies ? parseRange(rangeHeader, size) : undefined
    if (range === "unsatisfiable") {
      return Effect.succeed(HttpServerResponse.empty({ status: 416, headers: { "content-range": `bytes */${size}` } }))
    }
    const start = range?.start ?? 0
    const end = range?.end ?? size - 1
    const length = Math.max(0, end - start + 1)
    const status = range === undefined ? 200 : 206
    const headers: Record<string, string> = {
      ...common,
      "content-type": contentType,
      "content-length": String(length),
      etag
    }
    if (range !== undefined) headers["content-range"] = `bytes ${start}-${end}/${size}`
    const res = NodeHttpServerRequest.toServerResponse(request)
    res.writeHead(status, headers)
    // the real status for the counters; its body is never sent (the response has ended by then)
    const done = HttpServerResponse.empty({ status })
    if (request.method === "HEAD") {
      res.end()
      return Effect.succeed(done)
    }
    if (reset) rt.counters.bump(rt.counters.faults, "reset")
    return Effect.promise(() =>
      writeRange(res, source, {
        start,
        end,
        onBytes: (n) => {
          rt.counters.contentBytes += n
          rt.counters.bump(rt.counters.contentBytesById, counterKey, n)
        },
        onComplete: () => rt.counters.bump(rt.counters.contentRequests, counterKey),
        ...(rt.faults.config.contentBytesPerSecond !== undefined
          ? { bytesPerSecond: rt.faults.config.contentBytesPerSecond }
          : {}),
        ...(reset ? { resetAfter: Math.min(Math.floor(length / 2), 256 * 1024) } : {})
      })
    ).pipe(Effect.flatMap((how) => {
      if (how === "complete") return Effect.succeed(done)
      rt.counters.bump(rt.counters.contentAborted, counterKey)
      return Effect.interrupt
    }))
  })

const transcriptFormat = (ctx: Ctx): string => {
  // $format wins over Accept; neither (or */*) is rejected like real Graph does
  const format = ctx.query.get("$format")
  const accept = ctx.request.headers["accept"]
  const chosen = format ?? accept ?? "*/*"
  const types = chosen.split(",").map((s) => s.split(";")[0]!.trim().toLowerCase())
  if (types.includes("text/vtt")) return "text/vtt"
  throw badRequest(`Invalid format '${chosen}'`)
}

const TRANSCRIPT_ROUTES: ReadonlyArray<RouteName> = [
  "transcripts",
  "transcript",
  "transcriptContent",
  "transcriptMetadataContent",
  "getAllTranscripts",
  "getAllTranscriptsDelta",
  "adhocTranscripts",
  "adhocTranscript",
  "adhocTranscriptContent",
  "adhocTranscriptMetadataContent",
  "getAllAdhocTranscripts",
  "getAllAdhocTranscriptsDelta"
]

/** Permanent tenant conditions (see TenantPolicy), checked once the route is known. */
const policyFailure = (policy: TenantPolicy, route: RouteName, userId: string, claims: TokenClaims) => {
  const denied = policy.noAccessPolicy
  if (claims.oid === undefined && denied !== undefined && denied !== false) {
    if (denied === true || denied.some((u) => u.toLowerCase() === userId.toLowerCase())) {
      return new GraphFailure(403, "Forbidden", "No application access policy found for this app.")
    }
  }
  if (policy.transcriptsDisabled && TRANSCRIPT_ROUTES.includes(route)) {
    return new GraphFailure(
      403,
      "Forbidden",
      "Access to transcripts is disabled for this tenant.",
      {},
      "GraphAccessToTranscriptsDisabled"
    )
  }
  return undefined
}

/** Whole minutes an artifact's content is billed for (duration rounded down, as Graph meters). */
const billedMinutes = (a: ArtifactEntry): number => {
  const end = a.fixture.endDateTime ? Date.parse(a.fixture.endDateTime) : NaN
  return Number.isNaN(end) ? 0 : Math.max(0, Math.floor((end - a.createdMs) / 60_000))
}

/** 402 once the metered quota is used up; otherwise the download is billed. */
const meter = (rt: GraphRuntime, a: ArtifactEntry) => {
  const quota = rt.policy().meteredQuotaMinutes
  const cost = billedMinutes(a)
  if (quota !== undefined && rt.counters.meteredMinutes + cost > quota) {
    throw new GraphFailure(
      402,
      "PaymentRequired",
      "Evaluation mode capacity has been exceeded. Use a valid billing model with this API."
    )
  }
  rt.counters.meteredMinutes += cost
}

interface Matched {
  readonly route: RouteName
  /** the user in the path (id when known) */
  readonly userId?: string
  /** faults that must not be injected into this request */
  readonly exclude?: ReadonlyArray<FaultKind>
  readonly run: (
    fault: FaultKind | undefined
  ) => HttpServerResponse.HttpServerResponse | Effect.Effect<HttpServerResponse.HttpServerResponse>
}

const decodeSegment = (s: string): string => {
  try {
    return decodeURIComponent(s)
  } catch {
    throw badRequest(`Invalid percent-encoding in segment '${s}'.`)
  }
}

/** Strips OData key syntax: `onlineMeetings('id')` → id */
const keyOf = (segment: string): string => {
  const m = /^'(.*)'$/s.exec(segment)
  return m ? m[1]!.replace(/''/g, "'") : segment
}

const matchRoute = (ctx: Ctx, segments: ReadonlyArray<string>, claims: TokenClaims): Matched & { userId: string } => {
  let matchedUser = ""
  const m = matchRouteFor(ctx, segments, claims, (u) => (matchedUser = u))
  return { ...m, userId: matchedUser }
}

const matchRouteFor = (
  ctx: Ctx,
  segments: ReadonlyArray<string>,
  claims: TokenClaims,
  setUser: (userId: string) => void
): Matched => {
  const { rt } = ctx
  const state = rt.state
  let i = 0
  let userId: string
  if (segments[0]?.toLowerCase() === "subscriptions") return matchSubscriptions(ctx, segments, claims)
  if (segments[i] === "me") {
    if (claims.oid === undefined) {
      throw badRequest("/me request is only valid with delegated authentication flow.")
    }
    userId = claims.oid
    i += 1
  } else if (segments[i]?.toLowerCase() === "users" && segments[i + 1] !== undefined) {
    userId = segments[i + 1]!
    i += 2
  } else if (/^users\(.+\)$/i.test(segments[i] ?? "")) {
    userId = keyOf(segments[i]!.slice(6, -1))
    i += 1
  } else {
    throw badRequest(`Resource not found for the segment '${segments[i] ?? ""}'.`)
  }
  const user = state.findUser(userId)
  const notFoundUser = () =>
    new GraphFailure(
      404,
      "Request_ResourceNotFound",
      `Resource '${userId}' does not exist or one of its queried reference-property objects are not present.`
    )
  const userKey = user?.id ?? userId
  setUser(userKey)
  const ctxBase = `${ctx.origin}/${ctx.version}/$metadata#users('${userKey}')`

  if (segments.length === i) {
    return {
      route: "user",
      run: () => {
        if (!user) throw notFoundUser()
        return jsonResponse({
          "@odata.context": `${ctx.origin}/${ctx.version}/$metadata#users/$entity`,
          id: user.id,
          displayName: user.displayName ?? null,
          userPrincipalName: user.userPrincipalName ?? null
        })
      }
    }
  }

  let seg = segments[i]!
  const adhocKeyed = /^adhocCalls\((.*)\)$/is.exec(seg)
  if (adhocKeyed || seg.toLowerCase() === "adhoccalls") {
    return matchAdhoc(ctx, segments, adhocKeyed ? i : i + 1, adhocKeyed ? keyOf(adhocKeyed[1]!) : undefined, {
      user,
      userKey,
      ctxBase,
      notFoundUser
    })
  }
  let meetingKey: string | undefined
  const keyed = /^onlineMeetings\((.*)\)$/is.exec(seg)
  if (keyed) {
    meetingKey = keyOf(keyed[1]!)
  } else if (seg.toLowerCase() !== "onlinemeetings") {
    throw badRequest(`Resource not found for the segment '${seg}'.`)
  }
  i += 1

  if (meetingKey === undefined && segments.length === i) {
    return {
      route: "meetingsByJoinUrl",
      run: () => {
        if (!user) throw notFoundUser()
        const raw = ctx.query.get("$filter")
        const f = raw === null ? undefined : parseEqFilter(raw)
        if (!f || f.name !== "joinweburl") {
          throw badRequest("Filter on JoinWebUrl is required: $filter=JoinWebUrl eq '<join url>'.")
        }
        const norm = (s: string) => {
          try {
            return decodeURIComponent(s)
          } catch {
            return s
          }
        }
        const value = [...state.meetings.values()].filter((m) =>
          m.fixture.organizerId === user.id && m.fixture.joinWebUrl != null &&
          (m.fixture.joinWebUrl === f.value || norm(m.fixture.joinWebUrl) === norm(f.value))
        ).map((m) => meetingPayload(m, state.tenantId, user))
        return jsonResponse({ "@odata.context": `${ctxBase}/onlineMeetings`, value })
      }
    }
  }

  if (meetingKey === undefined) {
    seg = segments[i]!
    const getAll = matchGetAll(ctx, segments, i, "meeting", { user, userKey, ctxBase, notFoundUser })
    if (getAll) return getAll
    meetingKey = seg
    i += 1
  }

  const meetingId = meetingKey
  const meeting = state.meetings.get(meetingId)
  const requireMeeting = (): MeetingEntry => {
    if (!user) throw notFoundUser()
    if (!meeting || meeting.fixture.organizerId !== user.id) {
      throw notFound("The requested meeting was not found.")
    }
    return meeting
  }

  if (segments.length === i) {
    return {
      route: "meeting",
      run: () => {
        const m = requireMeeting()
        return jsonResponse({
          "@odata.context": `${ctxBase}/onlineMeetings/$entity`,
          ...meetingPayload(m, state.tenantId, user)
        })
      }
    }
  }

  return matchArtifacts(ctx, segments, i, {
    container: "meeting",
    require: requireMeeting,
    context: `${ctxBase}/onlineMeetings('${meetingId}')`,
    pathKey: `${userKey}|${meetingId}`
  })
}

const SUBSCRIPTION_ROUTES: ReadonlyArray<RouteName> = ["subscriptions", "subscription", "subscriptionReauthorize"]

/** Runs a subscription operation; its refusals become Graph error responses. */
const subscriptionCall = (
  ctx: Ctx,
  operation: (body: unknown) => Promise<HttpServerResponse.HttpServerResponse> | HttpServerResponse.HttpServerResponse,
  withBody: boolean
): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.gen(function*() {
    const body = withBody ? yield* Effect.orElseSucceed(ctx.request.json, () => undefined) : undefined
    const result = yield* Effect.either(Effect.tryPromise({
      try: async () => operation(body),
      catch: (e) => e
    }))
    if (result._tag === "Right") return HttpServerResponse.setHeaders(result.right, ctx.common)
    const e = result.left
    if (!(e instanceof SubscriptionFailure)) return yield* Effect.die(e)
    return HttpServerResponse.setHeaders(
      failureResponse(new GraphFailure(e.status, e.code, e.message), ctx.requestId, ctx.clientRequestId),
      ctx.common
    )
  })

/** `/subscriptions[/{id}[/reauthorize]]`: Graph's change-notification subscriptions. */
const matchSubscriptions = (ctx: Ctx, segments: ReadonlyArray<string>, claims: TokenClaims): Matched => {
  const store = ctx.rt.subscriptions
  const caller: Caller = { appId: claims.appid ?? "", userId: claims.oid }
  const method = ctx.request.method
  const context = `${ctx.origin}/${ctx.version}/$metadata#subscriptions`
  const notAllowed = () => new GraphFailure(405, "MethodNotAllowed", `Method '${method}' is not allowed here.`)
  if (segments.length === 1) {
    return {
      route: "subscriptions",
      run: () => {
        if (method === "GET") {
          return jsonResponse({ "@odata.context": context, value: store.list(caller).map(subscriptionPayload) })
        }
        if (method !== "POST") throw notAllowed()
        return subscriptionCall(ctx, async (body) => {
          const created = await store.create(body, caller)
          return jsonResponse({ "@odata.context": `${context}/$entity`, ...subscriptionPayload(created) }, 201)
        }, true)
      }
    }
  }
  const id = keyOf(segments[1]!)
  if (segments.length === 2) {
    return {
      route: "subscription",
      run: () => {
        if (method === "GET") {
          return subscriptionCall(
            ctx,
            () =>
              jsonResponse({ "@odata.context": `${context}/$entity`, ...subscriptionPayload(store.find(id, caller)) }),
            false
          )
        }
        if (method === "PATCH") {
          return subscriptionCall(ctx, (body) =>
            jsonResponse({
              "@odata.context": `${context}/$entity`,
              ...subscriptionPayload(store.update(id, body, caller))
            }), true)
        }
        if (method === "DELETE") {
          return subscriptionCall(ctx, () => {
            store.delete(id, caller)
            return HttpServerResponse.empty({ status: 204 })
          }, false)
        }
        throw notAllowed()
      }
    }
  }
  const action = segments[2]!.replace(/^microsoft\.graph\./, "")
  if (segments.length === 3 && action === "reauthorize") {
    return {
      route: "subscriptionReauthorize",
      run: () => {
        if (method !== "POST") throw notAllowed()
        return subscriptionCall(ctx, () => {
          store.reauthorize(id, caller)
          return HttpServerResponse.empty({ status: 204 })
        }, false)
      }
    }
  }
  throw badRequest(`Resource not found for the segment '${segments[2]}'.`)
}

interface UserScope {
  readonly user: FixtureUser | undefined
  /** the user's id when known, else the path segment */
  readonly userKey: string
  /** `…/$metadata#users('{id}')` */
  readonly ctxBase: string
  readonly notFoundUser: () => GraphFailure
}

/** Route names of a meeting's artifact routes, and their ad hoc call counterparts. */
const routeFor = (container: "meeting" | "adhocCall", name: string): RouteName =>
  (container === "meeting" ? name : `adhoc${name[0]!.toUpperCase()}${name.slice(1)}`) as RouteName

/**
 * `…/adhocCalls/getAllRecordings(userId='…',…)[/delta]` (and transcripts), or
 * `…/adhocCalls/{callId}` / `…/adhocCalls('{callId}')` followed by the artifact routes.
 */
const matchAdhoc = (
  ctx: Ctx,
  segments: ReadonlyArray<string>,
  start: number,
  keyed: string | undefined,
  scope: UserScope
): Matched => {
  const state = ctx.rt.state
  let i = start
  let callId = keyed
  if (callId === undefined) {
    if (segments[i] === undefined) throw badRequest("Resource not found for the segment 'adhocCalls'.")
    const getAll = matchGetAll(ctx, segments, i, "adhocCall", scope)
    if (getAll) return getAll
    callId = keyOf(segments[i]!)
  }
  i += 1
  const id = callId
  const call = state.adhocCalls.get(id)
  const requireCall = () => {
    if (!scope.user) throw scope.notFoundUser()
    if (!call || call.fixture.userId !== scope.user.id) throw notFound("The requested call was not found.")
    return call
  }
  // an ad hoc call itself (GET …/adhocCalls/{id}) is not served: Graph exposes only its artifacts
  if (segments.length === i) throw badRequest("Resource not found for the segment 'adhocCalls'.")
  return matchArtifacts(ctx, segments, i, {
    container: "adhocCall",
    require: requireCall,
    context: `${scope.ctxBase}/adhocCalls('${id}')`,
    pathKey: `${scope.userKey}|adhoc|${id}`
  })
}

/** `getAllRecordings(...)` / `getAllTranscripts(...)` (+ `/delta`) at `segments[i]`, for meetings or ad hoc calls. */
const matchGetAll = (
  ctx: Ctx,
  segments: ReadonlyArray<string>,
  start: number,
  container: "meeting" | "adhocCall",
  scope: UserScope
): Matched | undefined => {
  const state = ctx.rt.state
  const seg = segments[start]!
  const call = parseFunctionCall(seg)
  if (!call || (call.name !== "getAllRecordings" && call.name !== "getAllTranscripts")) return undefined
  let i = start + 1
  const isDelta = ["delta", "delta()", "microsoft.graph.delta", "microsoft.graph.delta()"].includes(segments[i] ?? "")
  if (isDelta) i += 1
  if (segments.length !== i) throw badRequest(`Resource not found for the segment '${segments[i]}'.`)
  const kind = call.name === "getAllRecordings" ? "recording" : "transcript"
  const what = kind === "recording" ? "Recordings" : "Transcripts"
  const route = `getAll${container === "adhocCall" ? "Adhoc" : ""}${what}${isDelta ? "Delta" : ""}` as RouteName
  // scheduled meetings take the organizer, ad hoc calls the user who started them
  const param = container === "meeting" ? "meetingOrganizerUserId" : "userId"
  return {
    route,
    exclude: pagedExclude(ctx),
    run: (fault) => {
      if (!scope.user) throw scope.notFoundUser()
      const params = call.params
      const owner = params?.get(param.toLowerCase())
      if (params?.has("__invalid")) throw badRequest(`Invalid function parameters: ${seg}`)
      if (owner === undefined || owner === "" || owner.startsWith("@")) {
        throw badRequest(`The parameter '${param}' is required and must be a quoted string literal.`)
      }
      const parseDate = (name: string) => {
        const v = params!.get(name.toLowerCase())
        if (v === undefined) return undefined
        const ms = Date.parse(v)
        if (Number.isNaN(ms) || v.startsWith("@")) throw badRequest(`Invalid value for parameter '${name}': '${v}'.`)
        return ms
      }
      const from = parseDate("startDateTime")
      const to = parseDate("endDateTime")
      const ownerUser = state.findUser(owner)
      const filter = filterOf(ctx)
      const items = state.log.filter((a) =>
        a.kind === kind && a.container === container && a.organizerId === (ownerUser?.id ?? owner) &&
        (from === undefined || a.createdMs >= from) && (to === undefined || a.createdMs < to) && filter(a)
      )
      return servePage(ctx, {
        items,
        context: `${ctx.origin}/${ctx.version}/$metadata#Collection(microsoft.graph.${
          kind === "recording" ? "callRecording" : "callTranscript"
        })`,
        delta: isDelta,
        kind,
        fault,
        pathKey: hash32(7, `${scope.userKey}|${container === "meeting" ? "" : "adhoc|"}${seg}|${isDelta}`)
      })
    }
  }
}

interface ArtifactOwner {
  readonly container: "meeting" | "adhocCall"
  /** the meeting or call, or a 404 */
  readonly require: () => {
    readonly recordings: ReadonlyArray<ArtifactEntry>
    readonly transcripts: ReadonlyArray<ArtifactEntry>
  }
  /** `@odata.context` prefix of the owner */
  readonly context: string
  readonly pathKey: string
}

/** `recordings|transcripts[/{id}[/content|/$value|/metadataContent]]` under a meeting or an ad hoc call. */
const matchArtifacts = (ctx: Ctx, segments: ReadonlyArray<string>, start: number, owner: ArtifactOwner): Matched => {
  const { rt } = ctx
  const state = rt.state
  let i = start
  const collection = segments[i]!
  if (collection !== "recordings" && collection !== "transcripts") {
    throw badRequest(`Resource not found for the segment '${collection}'.`)
  }
  const kind = collection === "recordings" ? "recording" : "transcript"
  i += 1
  const route = (name: string) => routeFor(owner.container, name)
  if (segments.length === i) {
    return {
      route: route(collection),
      exclude: pagedExclude(ctx),
      run: (fault) => {
        const m = owner.require()
        const filter = filterOf(ctx)
        const items = (kind === "recording" ? m.recordings : m.transcripts).filter(filter)
        const select = ctx.query.get("$select")
        return servePage(ctx, {
          items,
          context: `${owner.context}/${collection}${select === null ? "" : `(${select})`}`,
          count: true,
          tips: TIPS(collection),
          delta: false,
          kind,
          fault,
          pathKey: hash32(7, `${owner.pathKey}|${collection}`)
        })
      }
    }
  }

  const artifactId = keyOf(segments[i]!)
  i += 1
  const findArtifact = (): ArtifactEntry => {
    const m = owner.require()
    const a = (kind === "recording" ? m.recordings : m.transcripts).find((x) => x.fixture.id === artifactId)
    if (!a) throw new GraphFailure(404, "NotFound", `The requested ${kind} was not found.`)
    return a
  }
  /** A listed artifact whose content Graph has not finished processing: 404, not billed. */
  const requireReady = (a: ArtifactEntry) => {
    if (state.contentNotReady(a, Date.now())) {
      rt.counters.notReady++
      throw new GraphFailure(404, "NotFound", `The content of this ${kind} is not available yet.`)
    }
  }
  if (segments.length === i) {
    return {
      route: route(kind),
      run: () => {
        const a = findArtifact()
        const select = parseSelect(ctx, kind)
        return jsonResponse({
          "@odata.context": `${owner.context}/${collection}/$entity`,
          ...applySelect(artifactPayload(a, ctx.origin, ctx.version, state.tenantId), select)
        })
      }
    }
  }
  const leaf = segments[i]!
  i += 1
  if (segments.length !== i) throw badRequest(`Resource not found for the segment '${segments[i]}'.`)
  if (leaf === "content" || leaf === "$value") {
    return {
      route: route(kind === "recording" ? "recordingContent" : "transcriptContent"),
      run: (fault) => {
        const a = findArtifact()
        const contentType = kind === "recording"
          ? ((a.fixture as FixtureRecording).contentType ?? "video/mp4")
          : transcriptFormat(ctx)
        requireReady(a)
        meter(rt, a)
        return serveContent(ctx, a.fixture.id, a.content, contentType, fault, "content")
      }
    }
  }
  if (leaf === "metadataContent" && kind === "transcript") {
    return {
      route: route("transcriptMetadataContent"),
      run: (fault) => {
        const a = findArtifact()
        if (!a.metadataContent) throw new GraphFailure(404, "NotFound", "The transcript has no metadata content.")
        requireReady(a)
        meter(rt, a)
        return serveContent(
          ctx,
          `${a.fixture.id}#metadataContent`,
          a.metadataContent,
          "text/vtt",
          fault,
          "metadataContent"
        )
      }
    }
  }
  throw badRequest(`Resource not found for the segment '${leaf}'.`)
}

export interface RedirectTicket {
  readonly id: string
  readonly what: "content" | "metadataContent"
  readonly contentType: string
  readonly exp: number
}

const serveContent = (
  ctx: Ctx,
  counterKey: string,
  source: ContentSource,
  contentType: string,
  fault: FaultKind | undefined,
  what: "content" | "metadataContent"
) => {
  const id = what === "content" ? counterKey : counterKey.slice(0, -"#metadataContent".length)
  if (fault === "redirect") {
    ctx.rt.counters.bump(ctx.rt.counters.faults, "redirect")
    const ticket: RedirectTicket = { id, what, contentType, exp: Date.now() + 10 * 60_000 }
    const location = `${ctx.rt.secondOrigin()}/content/${sealState(ctx.rt.secret, ticket)}`
    return HttpServerResponse.empty({ status: 302, headers: { location } })
  }
  return contentResponse(ctx.rt, ctx.request, counterKey, source, contentType, fault === "reset", ctx.common)
}

const faultResponse = (rt: GraphRuntime, fault: FaultKind): GraphFailure | undefined => {
  const retry = String(rt.faults.config.retryAfterSeconds ?? 1)
  switch (fault) {
    case "429-seconds":
      return new GraphFailure(429, "TooManyRequests", "Too many requests", { "retry-after": retry })
    case "429-date": {
      // HTTP dates have 1 s resolution: round up so waiting until the date is always enough
      const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000)
      return new GraphFailure(429, "TooManyRequests", "Too many requests", { "retry-after": at.toUTCString() })
    }
    case "429-none":
      return new GraphFailure(429, "TooManyRequests", "Too many requests")
    case "500":
      return new GraphFailure(500, "generalException", "An unexpected error occurred.")
    case "502":
      return new GraphFailure(502, "BadGateway", "Bad gateway.")
    case "503":
      return new GraphFailure(503, "serviceNotAvailable", "The service is temporarily unavailable.", {
        "retry-after": retry
      })
    case "504":
      return new GraphFailure(504, "GatewayTimeout", "The gateway timed out.")
    default:
      return undefined
  }
}

const WWW_AUTH =
  `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`

/** The Graph HTTP app (everything under /v1.0 and /beta). */
export const graphApp = (rt: GraphRuntime) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const requestId = NodeCrypto.randomUUID()
    const clientRequestId = request.headers["client-request-id"] ?? requestId
    const common = {
      "request-id": requestId,
      "client-request-id": clientRequestId,
      "x-ms-ags-diagnostic": JSON.stringify({
        ServerInfo: { DataCenter: "Emulator", Slice: "E", Ring: "0", ScaleUnit: "000", RoleInstance: "127.0.0.1" }
      }),
      "strict-transport-security": "max-age=31536000"
    }
    const url = request.url
    const q = url.indexOf("?")
    const rawPath = q < 0 ? url : url.slice(0, q)
    const rawQuery = q < 0 ? "" : url.slice(q + 1)
    const finish = (response: HttpServerResponse.HttpServerResponse) => {
      rt.counters.bump(rt.counters.byStatus, String(response.status))
      if (response.status === 429) rt.counters.throttled++
      return HttpServerResponse.setHeaders(response, common)
    }
    const fail = (f: GraphFailure) => finish(failureResponse(f, requestId, clientRequestId))

    rt.counters.total++
    let segments: Array<string>
    try {
      segments = rawPath.split("/").filter((s) => s.length > 0).map(decodeSegment)
    } catch (e) {
      rt.counters.bump(rt.counters.byRoute, "unknown")
      return fail(e as GraphFailure)
    }
    const version = segments[0]!
    const ctx: Ctx = {
      rt,
      request,
      requestId,
      clientRequestId,
      origin: `${rt.scheme()}://${request.headers["host"] ?? "127.0.0.1"}`,
      version,
      rawPath,
      query: new URLSearchParams(rawQuery),
      rawQuery,
      common
    }

    // auth first: a wrong token must never be masked by a fault
    const auth = request.headers["authorization"]
    const bearer = auth !== undefined && /^bearer\s+/i.test(auth) ? auth.replace(/^bearer\s+/i, "").trim() : ""
    const unauthorized = (message: string) =>
      new GraphFailure(401, "InvalidAuthenticationToken", message, { "www-authenticate": WWW_AUTH })
    let matched: Matched & { userId: string }
    let claims: TokenClaims
    try {
      if (bearer === "") {
        rt.counters.bump(rt.counters.byRoute, "unknown")
        return fail(unauthorized("Access token is empty."))
      }
      const check = verifyToken(rt.secret, rt.state.tenantId, bearer, Date.now())
      if (check._tag === "Invalid") {
        rt.counters.bump(rt.counters.byRoute, "unknown")
        return fail(unauthorized(check.message))
      }
      claims = check.claims
      matched = matchRoute(ctx, segments.slice(1), claims)
    } catch (e) {
      if (e instanceof GraphFailure) {
        rt.counters.bump(rt.counters.byRoute, "unknown")
        return fail(e)
      }
      throw e
    }
    rt.counters.bump(rt.counters.byRoute, matched.route)
    if (rt.onRequest !== undefined) {
      const seen: RequestSeen = { route: matched.route, method: request.method, url }
      yield* Effect.promise(() => Promise.resolve(rt.onRequest!(seen)))
    }
    const denied = SUBSCRIPTION_ROUTES.includes(matched.route)
      ? undefined
      : policyFailure(rt.policy(), matched.route, matched.userId, claims)
    if (denied) return fail(denied)

    const nodeResponse = NodeHttpServerRequest.toServerResponse(request)
    const limited = rt.faults.rateLimit(rt.now())
    if (limited !== undefined) {
      rt.counters.bump(rt.counters.faults, "rateLimit")
      return fail(new GraphFailure(429, "TooManyRequests", "Too many requests", { "retry-after": String(limited) }))
    }
    const ceiling = rt.faults.config.maxConcurrency
    if (ceiling !== undefined && rt.faults.inflight >= ceiling) {
      rt.counters.bump(rt.counters.faults, "concurrency")
      return fail(new GraphFailure(429, "TooManyRequests", "Too many concurrent requests", { "retry-after": "1" }))
    }
    rt.faults.inflight++
    let released = false
    const release = () => {
      if (!released) {
        released = true
        rt.faults.inflight--
      }
    }
    nodeResponse.once("close", release)

    const key = `${request.method} ${url}`
    const latency = rt.faults.latency(key)
    if (latency > 0) {
      rt.counters.bump(rt.counters.faults, "latency")
      yield* Effect.sleep(latency)
    }
    const fault = rt.faults.decide(matched.route, key, matched.exclude ?? [])
    if (fault !== undefined) {
      const failure = faultResponse(rt, fault)
      if (failure) {
        rt.counters.bump(rt.counters.faults, fault)
        release()
        return fail(failure)
      }
    }
    let out: HttpServerResponse.HttpServerResponse | Effect.Effect<HttpServerResponse.HttpServerResponse>
    try {
      out = matched.run(fault)
    } catch (e) {
      if (e instanceof GraphFailure) {
        release()
        return fail(e)
      }
      throw e
    }
    // (a response is itself an Effect, so test for the response first)
    if (HttpServerResponse.isServerResponse(out)) return finish(out)
    const response = yield* out
    rt.counters.bump(rt.counters.byStatus, String(response.status))
    return response
  })

/** The second origin: serves redirected content to requests WITHOUT credentials, like a pre-signed URL. */
export const secondOriginApp = (rt: GraphRuntime) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    rt.counters.secondOrigin.requests++
    const requestId = NodeCrypto.randomUUID()
    const done = (r: HttpServerResponse.HttpServerResponse) => {
      rt.counters.bump(rt.counters.byStatus, String(r.status))
      return HttpServerResponse.setHeaders(r, { "x-ms-request-id": requestId })
    }
    if (request.headers["authorization"] !== undefined) {
      rt.counters.secondOrigin.withCredentials++
      return done(
        HttpServerResponse.text(
          errorBody(
            "InvalidAuthenticationInfo",
            "Authorization header is not allowed on a pre-authenticated URL.",
            requestId,
            requestId
          ),
          { status: 401, contentType: "application/json" }
        )
      )
    }
    const m = /^\/content\/([^/?]+)/.exec(request.url)
    const ticket = m ? openState<RedirectTicket>(rt.secret, m[1]!) : undefined
    const entry = ticket ? rt.state.artifacts.get(ticket.id) : undefined
    if (!ticket || !entry || ticket.exp < Date.now()) {
      return done(HttpServerResponse.text("", { status: 404 }))
    }
    const source = ticket.what === "content" ? entry.content : entry.metadataContent
    if (!source) return done(HttpServerResponse.text("", { status: 404 }))
    const key = ticket.what === "content" ? ticket.id : `${ticket.id}#metadataContent`
    const response = yield* contentResponse(rt, request, key, source, ticket.contentType, false, {
      "x-ms-request-id": requestId
    })
    rt.counters.bump(rt.counters.byStatus, String(response.status))
    return response
  })
