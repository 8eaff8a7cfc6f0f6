/**
 * The notification endpoint's HTTP(S) server: the validation handshake, bounded request bodies, a bounded
 * number of requests in work (more get 503 + Retry-After), and a handler for each notification body.
 */
import * as http from "node:http"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** What the handler answers for one notification body. */
export interface Answer {
  readonly status: number
  readonly retryAfterSeconds?: number | undefined
}

export interface ServerOptions {
  readonly host: string
  readonly port: number
  readonly tls: { readonly cert: string; readonly key: string } | null
  /** Requests read or stored at once; more are answered 503 at once, so memory stays bounded. */
  readonly maxInFlight: number
  /** Largest body accepted, bytes. */
  readonly maxBodyBytes: number
  /** Called with each notification body (not the handshake); must not fail. */
  readonly handle: (body: Buffer) => Promise<Answer>
}

/** Seconds Graph is asked to wait when the endpoint is busy. */
export const RETRY_AFTER_SECONDS = 5

/** A body of Graph's notifications (up to 4 MB per POST by the docs' limits is far above what arrives; 4 MiB cap). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024

const send = (res: http.ServerResponse, status: number, headers: Record<string, string> = {}, body = "") => {
  if (res.headersSent) return
  res.writeHead(status, { "Content-Length": String(Buffer.byteLength(body)), ...headers })
  res.end(body)
}

/** Reads the body up to `limit` bytes; null when it is larger (the rest is not buffered). */
const readBody = (req: http.IncomingMessage, limit: number): Promise<Buffer | null> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let size = 0
    req.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        req.removeAllListeners("data")
        req.resume()
        resolve(null)
      } else chunks.push(chunk)
    })
    req.on("end", () => resolve(size > limit ? null : Buffer.concat(chunks)))
    req.on("error", reject)
  })

const requestHandler = (options: ServerOptions) => {
  let inFlight = 0
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localhost")
    // Graph's validation request: POST <url>?validationToken=<text>; echo the decoded text as text/plain
    // within 10 s. (Also answered to a GET, which some proxies' health probes turn it into.)
    const token = url.searchParams.get("validationToken")
    if (token !== null) {
      req.resume()
      send(res, 200, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" }, token)
      return
    }
    if (req.method !== "POST") {
      req.resume()
      send(res, 405, { Allow: "POST" })
      return
    }
    if (inFlight >= options.maxInFlight) {
      req.resume()
      send(res, 503, { "Retry-After": String(RETRY_AFTER_SECONDS) })
      return
    }
    inFlight++
    readBody(req, options.maxBodyBytes).then(
      (body) => body === null ? { status: 413 } : options.handle(body),
      () => ({ status: 400 })
    ).then(
      (answer: Answer) => {
        const headers: Record<string, string> = answer.retryAfterSeconds === undefined
          ? {}
          : { "Retry-After": String(answer.retryAfterSeconds) }
        send(res, answer.status, headers)
      },
      () => send(res, 500)
    ).finally(() => {
      inFlight--
    })
  }
}

/** Serves until the scope closes; returns the local URL it listens on. */
export const serve = (options: ServerOptions): Effect.Effect<string, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: http.Server; url: string }, Error>((resume) => {
      const handler = requestHandler(options)
      const server = options.tls === null
        ? http.createServer(handler)
        : https.createServer({ cert: options.tls.cert, key: options.tls.key }, handler)
      // Graph expects an answer within 3 s (10 s for the handshake): a slow client cannot hold a socket long.
      server.requestTimeout = 10_000
      server.headersTimeout = 10_000
      server.once("error", (e) => resume(Effect.fail(e)))
      server.listen(options.port, options.host, () => {
        const { port } = server.address() as AddressInfo
        const host = options.host.includes(":") ? `[${options.host}]` : options.host
        resume(Effect.succeed({ server, url: `${options.tls === null ? "http" : "https"}://${host}:${port}/` }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  ).pipe(Effect.map(({ url }) => url))
