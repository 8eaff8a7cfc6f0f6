/**
 * The viewer's HTTP routes. Read-only: GET and HEAD, nothing else. Every
 * response carries a strict Content-Security-Policy and nosniff; data goes
 * out as JSON (the page renders it with textContent), media as files the
 * manifest names, resolved inside the export only.
 */
import * as Correlate from "@meeting-artifacts/correlate"
import * as fs from "node:fs"
import type * as http from "node:http"
import type { ExportIndex, SetQuery, SortColumn } from "../ExportIndex.js"
import { sortColumns } from "../ExportIndex.js"
import type { RunEntry } from "../RunHistory.js"
import { appCss, appJs, faviconSvg, indexHtml } from "./assets.js"
import { parseRange } from "./range.js"
import { resolveInside } from "./safePath.js"

export interface HandlerContext {
  /** The export's real path. */
  readonly rootReal: string
  /** The current index (reopened by the caller when the export changed). */
  readonly index: () => ExportIndex
  readonly runs: () => ReadonlyArray<RunEntry>
  /** The port the server listens on: requests for another host (DNS rebinding) are refused. */
  readonly port: () => number
}

const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "media-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join("; ")
// Media and data are never documents: opened directly, nothing in them runs.
const DATA_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"

const baseHeaders = (csp: string): Record<string, string> => ({
  "content-security-policy": csp,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
  "cross-origin-opener-policy": "same-origin",
  "x-frame-options": "DENY"
})

const send = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  extra: Record<string, string> = {},
  csp = DATA_CSP
): void => {
  const buf = typeof body === "string" ? Buffer.from(body, "utf8") : body
  res.writeHead(status, {
    ...baseHeaders(csp),
    "content-type": contentType,
    "content-length": String(buf.length),
    ...extra
  })
  res.end(req.method === "HEAD" ? undefined : buf)
}

const sendJson = (req: http.IncomingMessage, res: http.ServerResponse, status: number, value: unknown): void =>
  send(req, res, status, "application/json; charset=utf-8", JSON.stringify(value), { "cache-control": "no-store" })

const notFound = (req: http.IncomingMessage, res: http.ServerResponse, what = "not found"): void =>
  sendJson(req, res, 404, { error: what })

const intParam = (params: URLSearchParams, name: string): number | undefined => {
  const v = params.get(name)
  if (v === null || !/^\d{1,15}$/.test(v)) return undefined
  return Number(v)
}

const setQueryOf = (params: URLSearchParams): SetQuery => {
  const sort = params.get("sort")
  return {
    offset: intParam(params, "offset"),
    limit: intParam(params, "limit"),
    sort: sort !== null && (sortColumns as ReadonlyArray<string>).includes(sort) ? sort as SortColumn : undefined,
    descending: params.get("dir") !== "asc",
    text: params.get("text") ?? undefined,
    match: params.get("match") ?? undefined,
    has: params.get("has") ?? undefined
  }
}

// Only a plain video/audio type from the manifest is passed on; anything else (text/html...) is served as bytes.
const mediaType = (declared: string | undefined): string =>
  declared !== undefined && /^(video|audio)\/[a-z0-9.+-]{1,60}$/i.test(declared) ? declared : "application/octet-stream"

const sendFile = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  file: string,
  contentType: string
): void => {
  let fd: number
  try {
    fd = fs.openSync(file, "r")
  } catch {
    return notFound(req, res)
  }
  const size = fs.fstatSync(fd).size
  const headers = {
    ...baseHeaders(DATA_CSP),
    "content-type": contentType,
    "accept-ranges": "bytes",
    "cache-control": "no-cache"
  }
  const range = parseRange(req.headers.range, size)
  if (range._tag === "Unsatisfiable") {
    fs.closeSync(fd)
    res.writeHead(416, { ...headers, "content-range": `bytes */${size}`, "content-length": "0" })
    return void res.end()
  }
  const [status, start, end] = range._tag === "Partial" ? [206, range.start, range.end] : [200, 0, size - 1]
  res.writeHead(status, {
    ...headers,
    "content-length": String(Math.max(0, end - start + 1)),
    ...(status === 206 ? { "content-range": `bytes ${start}-${end}/${size}` } : {})
  })
  if (req.method === "HEAD" || size === 0) {
    fs.closeSync(fd)
    return void res.end()
  }
  const stream = fs.createReadStream("", { fd, start, end, autoClose: true })
  stream.on("error", () => res.destroy())
  res.on("close", () => stream.destroy())
  stream.pipe(res)
}

/** The transcript as WebVTT on the recording's timeline (cues said before the video began start at 0). */
const trackVtt = (index: ExportIndex, key: string): string | undefined => {
  const set = index.set(key)
  if (set === undefined || set.entry.transcript === null) return undefined
  const cues = set.cueList
    .map((c) => ({
      id: null,
      startMs: c.startMs + set.offsetMs,
      endMs: c.endMs + set.offsetMs,
      speaker: c.speaker,
      text: c.text
    }))
    .filter((c) => c.endMs > 0)
    .map((c) => ({ ...c, startMs: Math.max(0, c.startMs) }))
  return Correlate.formatVtt(cues)
}

const hostAllowed = (host: string | undefined, port: number): boolean =>
  host === `127.0.0.1:${port}` || host === `localhost:${port}`

export const handle = (ctx: HandlerContext, req: http.IncomingMessage, res: http.ServerResponse): void => {
  if (req.method !== "GET" && req.method !== "HEAD") {
    return send(req, res, 405, "text/plain; charset=utf-8", "read-only: GET and HEAD only\n", { allow: "GET, HEAD" })
  }
  if (!hostAllowed(req.headers.host, ctx.port())) {
    return send(req, res, 421, "text/plain; charset=utf-8", "unknown host\n")
  }
  let url: URL
  try {
    url = new URL(req.url ?? "/", "http://127.0.0.1")
  } catch {
    return notFound(req, res)
  }
  const params = url.searchParams
  switch (url.pathname) {
    case "/":
      return send(req, res, 200, "text/html; charset=utf-8", indexHtml, { "cache-control": "no-cache" }, PAGE_CSP)
    case "/assets/app.js":
      return send(req, res, 200, "text/javascript; charset=utf-8", appJs, { "cache-control": "no-cache" })
    case "/assets/app.css":
      return send(req, res, 200, "text/css; charset=utf-8", appCss, { "cache-control": "no-cache" })
    case "/favicon.svg":
    case "/favicon.ico":
      return send(req, res, 200, "image/svg+xml", faviconSvg, { "cache-control": "max-age=86400" })
    case "/api/facets":
      return sendJson(req, res, 200, ctx.index().facets())
    case "/api/sets":
      return sendJson(req, res, 200, ctx.index().sets(setQueryOf(params)))
    case "/api/set": {
      const set = ctx.index().set(params.get("key") ?? "")
      return set === undefined ? notFound(req, res, "no such set") : sendJson(req, res, 200, set)
    }
    case "/api/search":
      return sendJson(
        req,
        res,
        200,
        ctx.index().search(params.get("q") ?? "", {
          offset: intParam(params, "offset"),
          limit: intParam(params, "limit")
        })
      )
    case "/api/runs":
      return sendJson(req, res, 200, { runs: ctx.runs(), failures: ctx.index().failures() })
    case "/media/recording": {
      const key = params.get("key") ?? ""
      const recording = ctx.index().entry(key)?.recording
      if (recording == null) return notFound(req, res, "no recording")
      const file = resolveInside(ctx.rootReal, recording.path)
      if (file === null) {
        return sendJson(req, res, 403, { error: "the recording's path is missing or leads outside the export" })
      }
      return sendFile(req, res, file, mediaType(recording.contentType))
    }
    case "/media/transcript.vtt": {
      const vtt = trackVtt(ctx.index(), params.get("key") ?? "")
      return vtt === undefined
        ? notFound(req, res, "no transcript")
        : send(req, res, 200, "text/vtt; charset=utf-8", vtt, { "cache-control": "no-cache" })
    }
    default:
      return notFound(req, res)
  }
}
