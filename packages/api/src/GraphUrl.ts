/**
 * Pure URL building for the Graph endpoints this package calls.
 *
 * Ids are opaque and contain `/`, `+` and `=`, so every id in a path is
 * `encodeURIComponent`'ed. Function calls (`getAllRecordings(...)`) are built
 * inline with literal arguments: the parameter-alias form the SDKs generate is
 * rejected by Graph with 400/500.
 */

/** Whose resources: the signed-in user (delegated) or a user by object id / UPN. */
export type UserRef = "me" | { readonly userId: string }

/**
 * The call that owns recordings/transcripts: an online meeting id (a plain
 * string is a meeting id) or an ad hoc call id.
 */
export type CallRef = string | { readonly meetingId: string } | { readonly adhocCallId: string }

/** Arguments of `getAllRecordings` / `getAllTranscripts` for scheduled meetings. */
export interface OrganizerWindow {
  /** The organizer's object id (`meetingOrganizerUserId`). */
  readonly organizerId: string
  /** ISO 8601 date-time (string or Date); inclusive start of the window. */
  readonly startDateTime?: string | Date | undefined
  /** ISO 8601 date-time (string or Date); end of the window. */
  readonly endDateTime?: string | Date | undefined
  /** The user in the path (`/users/{userId}`); defaults to the organizer. */
  readonly userId?: string | undefined
}

/** Arguments of the ad hoc call `getAllRecordings` / `getAllTranscripts`. */
export interface AdhocWindow {
  /** The user whose ad hoc calls are listed (also the function's `userId` argument). */
  readonly userId: string
  readonly startDateTime?: string | Date | undefined
  readonly endDateTime?: string | Date | undefined
}

export type ArtifactKind = "recordings" | "transcripts"

/** A URL and the route template (no ids) used for spans, metrics and errors. */
export interface GraphRoute {
  readonly url: string
  readonly route: string
}

/** Thrown by the builders for input that cannot form a valid request (turned into a typed error by the client). */
export class InvalidArgument extends Error {
  readonly _tag = "InvalidArgument"
}

export const DEFAULT_BASE_URL = "https://graph.microsoft.com/v1.0"

/**
 * Masks the password of every `scheme://user:password@` in `text` (`user:***@`), so a URL can be echoed
 * in a message or a log. Also used for Postgres URLs.
 */
export const redactUrlCredentials = (text: string): string =>
  text.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s/]*@/gi, "$1***@")

/** Hosts an `http://` base URL may name without `allowInsecureHttp`: this machine only (an emulator, a proxy). */
export const isLoopbackHost = (hostname: string): boolean => {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, "")
  return h === "localhost" || h.endsWith(".localhost") || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
}

export interface BaseUrlOptions {
  /**
   * Allow `http://` to a host other than loopback. Off by default: the bearer token would cross the
   * network unencrypted.
   */
  readonly allowInsecureHttp?: boolean | undefined
}

/**
 * Normalises a base URL: must be absolute http(s) without a user or password, `https` unless the host is
 * loopback (or `allowInsecureHttp`); trailing slashes dropped. Messages never show a password.
 */
export const normalizeBaseUrl = (baseUrl: string, options?: BaseUrlOptions): string => {
  const shown = redactUrlCredentials(JSON.stringify(baseUrl))
  let url: URL
  try {
    url = new URL(baseUrl)
  } catch {
    throw new InvalidArgument(`baseUrl is not an absolute URL: ${shown}`)
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new InvalidArgument(`baseUrl must be http(s): ${shown}`)
  }
  if (url.username !== "" || url.password !== "") {
    throw new InvalidArgument(`baseUrl must not carry a user name or password (Graph takes a bearer token): ${shown}`)
  }
  if (url.search !== "" || url.hash !== "") {
    throw new InvalidArgument(`baseUrl must not carry a query or fragment: ${shown}`)
  }
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname) && options?.allowInsecureHttp !== true) {
    throw new InvalidArgument(
      `baseUrl ${shown} is plain http to ${url.hostname}: the access token would cross the network unencrypted; ` +
        "use https, or allow it explicitly (allowInsecureHttp, --allow-insecure-http)"
    )
  }
  return url.toString().replace(/\/+$/, "")
}

const enc = (id: string, what: string): string => {
  if (typeof id !== "string" || id.length === 0) {
    throw new InvalidArgument(`${what} must be a non-empty string`)
  }
  // URL parsers remove dot segments even percent-encoded (%2e), so "." / ".." cannot be sent as ids
  // without changing the path; real Graph ids are base64 and never are.
  if (id === "." || id === "..") throw new InvalidArgument(`${what} cannot be "." or ".."`)
  return encodeURIComponent(id)
}

/** An OData string literal: single quotes doubled. */
export const odataString = (value: string): string => `'${value.replace(/'/g, "''")}'`

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/

/**
 * A date-time literal for a function call: unquoted, UTC, as Graph expects
 * (`startDateTime=2024-01-15T00:00:00Z`). Strings already in ISO form with a
 * `Z` are kept exactly (7 fractional digits survive); others are normalised.
 */
export const dateTimeLiteral = (value: string | Date, what: string): string => {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new InvalidArgument(`${what} is an invalid Date`)
    return value.toISOString()
  }
  if (typeof value !== "string" || !ISO_DATE_TIME.test(value) || Number.isNaN(Date.parse(value))) {
    throw new InvalidArgument(
      `${what} must be an ISO 8601 date-time with a time zone, like 2024-01-15T00:00:00Z; got ${JSON.stringify(value)}`
    )
  }
  if (value.endsWith("Z")) return value
  return new Date(value).toISOString()
}

/** `/me` or `/users/{userId}` (encoded), and its template. */
export const userPath = (user: UserRef): GraphRoute => {
  if (user === "me") return { url: "/me", route: "/me" }
  if (user === null || typeof user !== "object") throw new InvalidArgument(`user must be "me" or { userId }`)
  return { url: `/users/${enc(user.userId, "userId")}`, route: "/users/{userId}" }
}

/** `/onlineMeetings/{meetingId}` or `/adhocCalls/{callId}` (encoded), and its template. */
export const callPath = (call: CallRef): GraphRoute => {
  if (typeof call === "string") {
    return { url: `/onlineMeetings/${enc(call, "meetingId")}`, route: "/onlineMeetings/{meetingId}" }
  }
  if (call !== null && typeof call === "object" && "adhocCallId" in call) {
    return { url: `/adhocCalls/${enc(call.adhocCallId, "adhocCallId")}`, route: "/adhocCalls/{callId}" }
  }
  if (call !== null && typeof call === "object" && "meetingId" in call) {
    return { url: `/onlineMeetings/${enc(call.meetingId, "meetingId")}`, route: "/onlineMeetings/{meetingId}" }
  }
  throw new InvalidArgument("call must be a meeting id, { meetingId } or { adhocCallId }")
}

const join = (baseUrl: string, ...parts: ReadonlyArray<GraphRoute>): GraphRoute => ({
  url: baseUrl + parts.map((p) => p.url).join(""),
  route: parts.map((p) => p.route).join("")
})

const seg = (url: string, route: string = url): GraphRoute => ({ url, route })

const artifactIdName = (kind: ArtifactKind) => (kind === "recordings" ? "recordingId" : "transcriptId")

/** List recordings/transcripts of a call, optionally `$filter`ed by contentCorrelationId. */
export const listArtifacts = (
  baseUrl: string,
  user: UserRef,
  call: CallRef,
  kind: ArtifactKind,
  options?: { readonly contentCorrelationId?: string | undefined; readonly top?: number | undefined }
): GraphRoute => {
  const r = join(baseUrl, userPath(user), callPath(call), seg(`/${kind}`))
  const query: Array<string> = []
  if (options?.contentCorrelationId !== undefined) {
    query.push(`$filter=${encodeURIComponent(`contentCorrelationId eq ${odataString(options.contentCorrelationId)}`)}`)
  }
  if (options?.top !== undefined) {
    if (!Number.isInteger(options.top) || options.top < 1 || options.top > 999) {
      throw new InvalidArgument(`top must be an integer between 1 and 999; got ${options.top}`)
    }
    query.push(`$top=${options.top}`)
  }
  return query.length === 0 ? r : { url: `${r.url}?${query.join("&")}`, route: r.route }
}

/** One recording/transcript, or its `/content` / `/metadataContent` stream. */
export const artifact = (
  baseUrl: string,
  user: UserRef,
  call: CallRef,
  kind: ArtifactKind,
  id: string,
  suffix: "" | "/content" | "/metadataContent" = ""
): GraphRoute =>
  join(
    baseUrl,
    userPath(user),
    callPath(call),
    seg(`/${kind}/${enc(id, artifactIdName(kind))}${suffix}`, `/${kind}/{${artifactIdName(kind)}}${suffix}`)
  )

/** Transcript content as WebVTT: `$format=text/vtt` (the request also sends `Accept: text/vtt`). */
export const transcriptContent = (baseUrl: string, user: UserRef, call: CallRef, transcriptId: string): GraphRoute => {
  const r = artifact(baseUrl, user, call, "transcripts", transcriptId, "/content")
  return { url: `${r.url}?$format=${encodeURIComponent("text/vtt")}`, route: r.route }
}

const windowArgs = (
  w: { readonly startDateTime?: string | Date | undefined; readonly endDateTime?: string | Date | undefined }
) => {
  const args: Array<string> = []
  if (w.startDateTime !== undefined) args.push(`startDateTime=${dateTimeLiteral(w.startDateTime, "startDateTime")}`)
  if (w.endDateTime !== undefined) args.push(`endDateTime=${dateTimeLiteral(w.endDateTime, "endDateTime")}`)
  return args
}

const fnName = (kind: ArtifactKind) => (kind === "recordings" ? "getAllRecordings" : "getAllTranscripts")

/**
 * `/users/{id}/onlineMeetings/getAllRecordings(meetingOrganizerUserId='{oid}',startDateTime=..,endDateTime=..)`
 * (or `getAllTranscripts`), with `/delta` appended when asked.
 */
export const getAllArtifacts = (baseUrl: string, kind: ArtifactKind, w: OrganizerWindow, delta = false): GraphRoute => {
  if (w === null || typeof w !== "object") {
    throw new InvalidArgument("a window { organizerId, startDateTime, endDateTime } is required")
  }
  enc(w.organizerId, "organizerId")
  const args = [
    `meetingOrganizerUserId=${encodeURIComponent(odataString(w.organizerId))}`,
    ...windowArgs(w)
  ]
  const fn = fnName(kind)
  return join(
    baseUrl,
    userPath({ userId: w.userId ?? w.organizerId }),
    seg(
      `/onlineMeetings/${fn}(${args.join(",")})${delta ? "/delta" : ""}`,
      `/onlineMeetings/${fn}(...)${delta ? "/delta" : ""}`
    )
  )
}

/** `/users/{id}/adhocCalls/getAllRecordings(userId='{oid}',startDateTime=..,endDateTime=..)` (or transcripts). */
export const getAllAdhocArtifacts = (
  baseUrl: string,
  kind: ArtifactKind,
  w: AdhocWindow,
  delta = false
): GraphRoute => {
  if (w === null || typeof w !== "object") {
    throw new InvalidArgument("a window { userId, startDateTime, endDateTime } is required")
  }
  enc(w.userId, "userId")
  const args = [`userId=${encodeURIComponent(odataString(w.userId))}`, ...windowArgs(w)]
  const fn = fnName(kind)
  return join(
    baseUrl,
    userPath({ userId: w.userId }),
    seg(
      `/adhocCalls/${fn}(${args.join(",")})${delta ? "/delta" : ""}`,
      `/adhocCalls/${fn}(...)${delta ? "/delta" : ""}`
    )
  )
}

/** `GET .../onlineMeetings/{meetingId}`. */
export const meeting = (baseUrl: string, user: UserRef, meetingId: string): GraphRoute =>
  join(baseUrl, userPath(user), callPath(meetingId))

/** `GET .../onlineMeetings?$filter=JoinWebUrl eq '{joinWebUrl}'`. */
export const meetingByJoinUrl = (baseUrl: string, user: UserRef, joinWebUrl: string): GraphRoute => {
  if (typeof joinWebUrl !== "string" || joinWebUrl.length === 0) {
    throw new InvalidArgument("joinWebUrl must be a non-empty string")
  }
  const r = join(baseUrl, userPath(user), seg("/onlineMeetings"))
  return {
    url: `${r.url}?$filter=${encodeURIComponent(`JoinWebUrl eq ${odataString(joinWebUrl)}`)}`,
    route: `${r.route}?$filter=JoinWebUrl`
  }
}

/** The route template of a stored link (nextLink/deltaLink): its path with the base path and query removed. */
export const routeOfLink = (baseUrl: string, link: string): string => {
  try {
    const base = new URL(baseUrl)
    const url = new URL(link)
    let path = url.pathname
    if (path.startsWith(base.pathname)) path = path.slice(base.pathname.length)
    // Ids in a link are opaque; collapse anything that is not a known literal segment.
    return path
      .split("/")
      .map((s) =>
        s === "" ||
          /^(me|users|onlineMeetings|adhocCalls|recordings|transcripts|content|metadataContent|delta|subscriptions)$/
            .test(s)
          ? s
          : s.startsWith("getAll")
          ? s.replace(/\(.*$/, "(...)")
          : "{id}"
      )
      .join("/")
  } catch {
    return "{link}"
  }
}

/** Well-known Graph hosts and the token scope each wants; anything else (an emulator) uses the public cloud scope. */
export const scopeForBaseUrl = (baseUrl: string): string => {
  const host = new URL(baseUrl).host.toLowerCase()
  const known = [
    "graph.microsoft.com",
    "graph.microsoft.us",
    "dod-graph.microsoft.us",
    "microsoftgraph.chinacloudapi.cn"
  ]
  return known.includes(host) ? `https://${host}/.default` : "https://graph.microsoft.com/.default"
}

/**
 * Whose artifacts a change-notification subscription watches: the whole tenant (app-only), one
 * organizer's meetings (or one user's ad hoc calls), or one meeting.
 */
export type SubscriptionScope =
  | { readonly _tag: "Tenant" }
  | { readonly _tag: "User"; readonly userId: string }
  | { readonly _tag: "Meeting"; readonly meetingId: string }

/** Online meetings (scheduled) or ad hoc calls (1:1, group, PSTN). */
export type CallKind = "onlineMeetings" | "adhocCalls"

/**
 * The `resource` of a subscription to new recordings/transcripts (Graph: "Get change notifications for
 * meeting transcripts and recordings"): `communications/onlineMeetings/getAllRecordings` (tenant-wide),
 * `users/{id}/onlineMeetings/getAllRecordings` (one organizer), `communications/onlineMeetings/{id}/recordings`
 * (one meeting); `adhocCalls` in place of `onlineMeetings` for ad hoc calls (tenant or user scope only).
 * Relative, without the base URL, as Graph wants it; ids are encoded.
 */
export const subscriptionResource = (
  kind: ArtifactKind,
  scope: SubscriptionScope,
  calls: CallKind = "onlineMeetings"
): string => {
  const fn = fnName(kind)
  switch (scope._tag) {
    case "Tenant":
      return `communications/${calls}/${fn}`
    case "User":
      return `users/${enc(scope.userId, "userId")}/${calls}/${fn}`
    case "Meeting":
      if (calls !== "onlineMeetings") {
        throw new InvalidArgument("a subscription to one call exists for online meetings only")
      }
      return `communications/onlineMeetings/${enc(scope.meetingId, "meetingId")}/${kind}`
  }
}

/** `/subscriptions`. */
export const subscriptions = (baseUrl: string): GraphRoute => join(baseUrl, seg("/subscriptions"))

/** `/subscriptions/{id}`, or an action under it (`/reauthorize`). */
export const subscription = (baseUrl: string, id: string, action: "" | "/reauthorize" = ""): GraphRoute =>
  join(baseUrl, seg(`/subscriptions/${enc(id, "subscriptionId")}${action}`, `/subscriptions/{subscriptionId}${action}`))
