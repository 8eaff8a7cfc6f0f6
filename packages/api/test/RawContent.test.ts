/**
 * Recording bodies on connections of our own (src/internal/rawSend.ts, rawConnection.ts, rawDrain.ts),
 * against real loopback servers, plain and TLS (the test CA of globalSetup.ts): bytes lent to a consumer
 * that holds them back are never overwritten (a read buffer of a few bytes, TLS records decrypted after
 * a pause), chunked bodies cut mid-chunk are resumed byte-exact, credentials never follow a redirect to
 * another origin, an interrupted download closes its socket, a kept connection the server closed is
 * replaced without a retry, a connection goes back to the pool as soon as its answer ended (and an old
 * answer's readers and scope never touch the request that reuses it).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { generatedBytes, serverCertificate, type TestCa } from "@meeting-artifacts/graph-emulator"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import * as Http from "node:http"
import * as Https from "node:https"
import type { AddressInfo, Socket } from "node:net"
import type { Drained } from "../src/internal/drainBody.js"
import { RawConnection } from "../src/internal/rawConnection.js"
import { drainRaw } from "../src/internal/rawDrain.js"
import { exchangeScoped, RawLease, RawPool, requestHead } from "../src/internal/rawSend.js"
import { GraphClient } from "../src/index.js"
import { clientLayer, sha256 } from "./helpers.js"

const SIZE = 1024 * 1024 + 4321
const DATA = generatedBytes(11, SIZE)

/** Writes `DATA` chunked, in chunks of awkward sizes (1 byte to 70 KiB), from `from`; stops (destroys) at byte `cutAt`. */
const writeChunked = (res: Http.ServerResponse, from: number, cutAt = Infinity) => {
  const sizes = [1, 2, 15, 16, 17, 4095, 4097, 65535, 70000, 3]
  let at = from
  let i = 0
  const next = () => {
    while (at < SIZE) {
      const n = Math.min(sizes[i++ % sizes.length]!, SIZE - at)
      if (at + n > cutAt) {
        res.write(DATA.subarray(at, cutAt))
        return void setImmediate(() => res.socket?.destroy())
      }
      const ok = res.write(DATA.subarray(at, at + n))
      at += n
      if (!ok) return void res.once("drain", next)
    }
    res.end()
  }
  next()
}

interface Seen {
  readonly url: string
  readonly authorization: string | undefined
  readonly connection: string | undefined
  readonly range: string | undefined
}

/** A content host: chunked (or with a length), the first full request cut mid-chunk; Range answered with 206. */
const contentHandler = (seen: Array<Seen>, opts: { chunked: boolean; cutFirst: boolean }) => {
  let full = 0
  return (req: Http.IncomingMessage, res: Http.ServerResponse) => {
    seen.push({
      url: req.url!,
      authorization: req.headers.authorization,
      connection: req.headers.connection,
      range: req.headers.range
    })
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "")
    const from = m === null ? 0 : Number(m[1])
    const headers: Record<string, string> = { "content-type": "video/mp4", etag: "\"r1\"" }
    if (!opts.chunked) headers["content-length"] = String(SIZE - from)
    if (from > 0) headers["content-range"] = `bytes ${from}-${SIZE - 1}/${SIZE}`
    res.writeHead(from > 0 ? 206 : 200, headers)
    const cut = from === 0 && opts.cutFirst && full++ === 0 ? 654_321 : Infinity
    if (opts.chunked) writeChunked(res, from, cut)
    else if (cut === Infinity) res.end(DATA.subarray(from))
    else {
      res.write(DATA.subarray(from, cut))
      setImmediate(() => res.socket?.destroy())
    }
  }
}

const listen = (server: Http.Server): Promise<number> =>
  new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)))

const close = (server: Http.Server | undefined) =>
  new Promise<void>((resolve) => {
    if (server === undefined) return resolve()
    server.closeAllConnections()
    server.close(() => resolve())
  })

let cert: { key: string; cert: string }
beforeAll(async () => {
  const ca = JSON.parse(process.env["GRAPH_EMULATOR_TEST_CA"]!) as TestCa
  cert = await serverCertificate(ca)
})

/**
 * Drains one body off a RawConnection with a `readBytes` buffer; the consumer holds every third chunk
 * back for a turn and hashes it only then, so bytes overwritten while lent would change the hash.
 */
const drainWithHolds = (url: URL, readBytes: number) =>
  new Promise<{ sha: string; bytes: number; drained: Drained; status: number }>((resolve, reject) => {
    const conn = new RawConnection(url.origin, url, readBytes)
    const hash = createHash("sha256")
    let bytes = 0
    let n = 0
    conn.send(requestHead({ method: "GET", url, headers: { accept: "*/*" }, body: undefined }), {
      onFail: (cause) => reject(cause),
      onHead: (head) => {
        drainRaw(new RawLease(new RawPool(), conn), 30_000, String, (chunk) => {
          bytes += chunk.length
          if (++n % 3 !== 0) return void hash.update(chunk)
          return new Promise<void>((done) =>
            setImmediate(() => {
              hash.update(chunk)
              done()
            })
          )
        }, (drained) => {
          conn.destroy()
          resolve({ sha: hash.digest("hex"), bytes, drained, status: head.status })
        })
      }
    })
  })

describe("raw content connections (loopback servers)", () => {
  const servers: Array<Http.Server> = []
  afterAll(() => Promise.all(servers.map(close)))

  for (const tls of [false, true]) {
    for (const chunked of [false, true]) {
      it.live(
        `${tls ? "https" : "http"}, ${
          chunked ? "chunked" : "Content-Length"
        }: a consumer holding chunks back with tiny read buffers gets every byte unchanged`,
        () =>
          Effect.promise(async () => {
            const seen: Array<Seen> = []
            const handler = contentHandler(seen, { chunked, cutFirst: false })
            const server = tls ? Https.createServer(cert, handler) : Http.createServer(handler)
            servers.push(server)
            const port = await listen(server)
            const url = new URL(`${tls ? "https" : "http"}://127.0.0.1:${port}/blob`)
            // 7 bytes: every head line, chunk-size line and TLS record spans many reads; 1000: a TLS record
            // is handed over in several reads, some of them while the consumer holds the previous one
            for (const readBytes of tls ? [1000, 16 * 1024] : [7, 1000, 256 * 1024]) {
              const r = await drainWithHolds(url, readBytes)
              expect(r.status).toBe(200)
              expect(r.drained).toEqual({ cut: null, stalled: false, stopped: null })
              expect(r.bytes).toBe(SIZE)
              expect(r.sha).toBe(sha256(DATA))
            }
          }),
        120_000
      )
    }
  }
})

/**
 * A consumer with a ring of its own (as the pipeline's part writer): `into` offers the ring's free run,
 * `push` counts a chunk that is the ring's next bytes and copies any other in. What the ring received,
 * read back in order, must be the body; with Content-Length most bytes arrive in place.
 */
const drainIntoRing = (url: URL, readBytes: number) =>
  new Promise<{ sha: string; inPlace: number; copied: number; drained: Drained }>((resolve, reject) => {
    const conn = new RawConnection(url.origin, url, readBytes)
    const ring = new Uint8Array(new SharedArrayBuffer(256 * 1024))
    const hash = createHash("sha256")
    let at = 0
    let used = 0
    let inPlace = 0
    let copied = 0
    // the ring's consumer: takes what is in it, some turns later (while the socket reads on)
    const take = () => {
      const start = (at - used + ring.length) % ring.length
      const run = Math.min(used, ring.length - start)
      hash.update(ring.subarray(start, start + run))
      used -= run
    }
    const timer = setInterval(take, 1)
    const room = () => new Promise<void>((done) => setImmediate(() => (take(), done())))
    /** Copies what fits of `chunk` from `off`; the offset reached. */
    const copyIn = (chunk: Uint8Array, off: number): number => {
      while (off < chunk.length && used < ring.length) {
        const n = Math.min(chunk.length - off, ring.length - used, ring.length - at)
        ring.set(chunk.subarray(off, off + n), at)
        at = (at + n) % ring.length
        used += n
        off += n
      }
      return off
    }
    // as the part writer: at once when it fits, else a promise of when it is all in
    const put = (chunk: Uint8Array): void | Promise<void> => {
      const off = copyIn(chunk, 0)
      if (off === chunk.length) return
      return (async () => {
        for (let o = off; o < chunk.length;) {
          await room()
          o = copyIn(chunk, o)
        }
      })()
    }
    conn.send(requestHead({ method: "GET", url, headers: {}, body: undefined }), {
      onFail: reject,
      onHead: () =>
        drainRaw(new RawLease(new RawPool(), conn), 30_000, String, (chunk) => {
          if (chunk.buffer === ring.buffer && chunk.byteOffset === at) {
            inPlace += chunk.length
            at = (at + chunk.length) % ring.length
            used += chunk.length
            return
          }
          copied += chunk.length
          return put(chunk)
        }, (drained) => {
          clearInterval(timer)
          while (used > 0) take()
          conn.destroy()
          resolve({ sha: hash.digest("hex"), inPlace, copied, drained })
        }, () => ring.subarray(at, at + Math.min(ring.length - used, ring.length - at)))
    })
  })

describe("raw content connections reading into the consumer's memory (DrainOptions.into)", () => {
  const servers: Array<Http.Server> = []
  afterAll(() => Promise.all(servers.map(close)))

  for (const tls of [false, true]) {
    for (const chunked of [false, true]) {
      it.live(
        `${tls ? "https" : "http"}, ${chunked ? "chunked" : "Content-Length"}: every byte, in order`,
        () =>
          Effect.promise(async () => {
            const handler = contentHandler([], { chunked, cutFirst: false })
            const server = tls ? Https.createServer(cert, handler) : Http.createServer(handler)
            servers.push(server)
            const port = await listen(server)
            const r = await drainIntoRing(new URL(`${tls ? "https" : "http"}://127.0.0.1:${port}/blob`), 64 * 1024)
            expect(r.drained).toEqual({ cut: null, stalled: false, stopped: null })
            expect(r.inPlace + r.copied).toBe(SIZE)
            expect(r.sha).toBe(sha256(DATA))
            // framed by a length, the body after the head's read is received in place
            if (!chunked) expect(r.inPlace).toBeGreaterThan(SIZE / 2)
          }),
        60_000
      )
    }
  }
})

describe("recordingContent on raw connections (https loopback Graph and content host)", () => {
  let graph: Https.Server
  let contentHost: Https.Server
  const graphSeen: Array<Seen> = []
  const contentSeen: Array<Seen> = []
  let base = ""
  let contentOrigin = ""
  /** Sockets the content host accepted, and whether each has closed. */
  const sockets: Array<{ socket: Socket; closed: Promise<void> }> = []
  let hold: "none" | "stall" = "none"
  const handler = contentHandler(contentSeen, { chunked: true, cutFirst: true })
  beforeAll(async () => {
    contentHost = Https.createServer(cert, (req, res) => {
      if (hold === "stall") {
        contentSeen.push({
          url: req.url!,
          authorization: req.headers.authorization,
          connection: undefined,
          range: undefined
        })
        res.writeHead(200, { "content-length": String(SIZE) })
        return void res.write(DATA.subarray(0, 100_000))
      }
      handler(req, res)
    })
    contentHost.on("connection", (socket: Socket) => {
      sockets.push({ socket, closed: new Promise((resolve) => socket.once("close", () => resolve())) })
    })
    // localhost, not 127.0.0.1: another origin (another host and port) than Graph's
    contentOrigin = `https://localhost:${await listen(contentHost)}`
    graph = Https.createServer(cert, (req, res) => {
      graphSeen.push({
        url: req.url!,
        authorization: req.headers.authorization,
        connection: req.headers.connection,
        range: req.headers.range
      })
      res.writeHead(302, { location: `${contentOrigin}/blob?sig=abc`, "content-length": "0" }).end()
    })
    base = `https://127.0.0.1:${await listen(graph)}/v1.0`
  })
  afterAll(() => Promise.all([close(graph), close(contentHost)]))

  const download = Effect.scoped(Effect.gen(function*() {
    const api = yield* GraphClient
    const content = yield* api.recordingContent({ userId: "u" }, "m", "r")
    const hash = createHash("sha256")
    let bytes = 0
    yield* content.drain((chunk) => {
      bytes += chunk.length
      // held back for a turn, hashed only then (bytes overwritten while lent would change the hash)
      if (bytes % 3 !== 0) return void hash.update(chunk)
      return new Promise<void>((done) => setImmediate(() => (hash.update(chunk), done())))
    })
    return { sha: hash.digest("hex"), bytes, stats: yield* api.stats }
  }))

  it.live(
    "a 302 to another origin: the token only to Graph, a chunked body cut mid-chunk resumed byte-exact",
    () =>
      Effect.gen(function*() {
        const layer = clientLayer({ baseUrl: base, accessToken: "token-123" })
        const r = yield* Effect.provide(download, layer)
        expect(r.bytes).toBe(SIZE)
        expect(r.sha).toBe(sha256(DATA))
        expect(r.stats.resumes).toBe(1)
        expect(graphSeen.length).toBe(2)
        expect(graphSeen.every((s) => s.authorization === "Bearer token-123")).toBe(true)
        expect(contentSeen.map((s) => s.range)).toEqual([undefined, "bytes=654321-"])
        expect(contentSeen.every((s) => s.authorization === undefined)).toBe(true)
        // the raw path sends no Connection header (Node's keep-alive agent always does): it was the one used
        expect(contentSeen.every((s) => s.connection === undefined)).toBe(true)
      }),
    60_000
  )

  it.live(
    "a kept connection the server closed is replaced for the next download without a retry",
    () =>
      Effect.gen(function*() {
        const layer = clientLayer({ baseUrl: base, accessToken: "token-123" })
        const r = yield* Effect.provide(
          Effect.gen(function*() {
            const first = yield* download
            const connections = sockets.length
            // the servers drop every idle connection the client keeps
            yield* Effect.promise(() => Promise.all(sockets.map((s) => (s.socket.destroy(), s.closed))))
            graph.closeAllConnections()
            const second = yield* download
            return { first, second, connections, after: sockets.length }
          }),
          layer
        )
        expect(r.second.sha).toBe(sha256(DATA))
        expect(r.second.stats.retries).toBe(0)
        expect(r.after).toBeGreaterThan(r.connections)
      }),
    60_000
  )

  it.live("an interrupted download closes its connection", () =>
    Effect.gen(function*() {
      hold = "stall"
      const layer = clientLayer({ baseUrl: base, accessToken: "token-123" })
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(Effect.provide(
        Effect.scoped(Effect.gen(function*() {
          const api = yield* GraphClient
          const content = yield* api.recordingContent({ userId: "u" }, "m", "r")
          yield* content.drain(() => void Deferred.unsafeDone(started, Effect.void))
        })),
        layer
      ))
      yield* Deferred.await(started)
      const open = sockets.at(-1)!
      yield* Fiber.interrupt(fiber)
      // resolves only once the client closed it (the server never ends this body)
      yield* Effect.promise(() => open.closed)
      hold = "none"
    }), 60_000)
})

/** A plain loopback server that counts the connections it accepted. */
const countingServer = async (handler: Http.RequestListener) => {
  const server = Http.createServer(handler)
  const counted = { connections: 0 }
  server.on("connection", () => void counted.connections++)
  const port = await listen(server)
  return { server, counted, origin: `http://127.0.0.1:${port}` }
}

/** A promise and what settles it (Node 20 has no Promise.withResolvers). */
const gate = () => {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

/** The body of `res` read to its end, as one buffer. */
const readAll = (res: { readonly stream: Stream.Stream<Uint8Array, unknown> }) =>
  Stream.runFold(res.stream, Buffer.alloc(0), (acc, c) => Buffer.concat([acc, c]))

describe("a raw connection goes back to the pool as soon as its answer has ended", () => {
  const servers: Array<Http.Server> = []
  afterAll(() => Promise.all(servers.map(close)))

  it.live(
    "refused attempts (503, 503, 503, then 200) of one download: one connection, not one per attempt",
    () =>
      Effect.gen(function*() {
        let answered = 0
        const { counted, origin, server } = yield* Effect.promise(() =>
          countingServer((_req, res) => {
            if (answered++ < 3) {
              const body = JSON.stringify({ error: { code: "serviceNotAvailable", message: "try again" } })
              return void res.writeHead(503, { "content-type": "application/json", "content-length": body.length })
                .end(body)
            }
            res.writeHead(200, { "content-type": "video/mp4", "content-length": SIZE }).end(DATA)
          })
        )
        servers.push(server)
        const r = yield* Effect.provide(
          Effect.scoped(Effect.gen(function*() {
            const api = yield* GraphClient
            const content = yield* api.recordingContent({ userId: "u" }, "m", "r")
            const parts: Array<Uint8Array> = []
            yield* content.drain((chunk) => void parts.push(Uint8Array.from(chunk)))
            return { body: Buffer.concat(parts), stats: yield* api.stats }
          })),
          clientLayer({ baseUrl: `${origin}/v1.0`, accessToken: "t" })
        )
        expect(sha256(r.body)).toBe(sha256(DATA))
        expect(r.stats.retries).toBe(3)
        expect(answered).toBe(4)
        expect(counted.connections).toBe(1)
      }),
    60_000
  )

  it.live(
    "a 302's Graph connection serves the next download while the first one's content still flows",
    () =>
      Effect.gen(function*() {
        const contentRequests = yield* Deferred.make<void>()
        let contentSeen = 0
        const bodyHeld = gate()
        const content = yield* Effect.promise(() =>
          countingServer((_req, res) => {
            res.writeHead(200, { "content-type": "video/mp4", "content-length": SIZE })
            res.write(DATA.subarray(0, 100_000))
            // the rest only once both downloads have asked for their content
            if (++contentSeen === 2) bodyHeld.resolve()
            void bodyHeld.promise.then(() => res.end(DATA.subarray(100_000)))
            if (contentSeen === 1) Deferred.unsafeDone(contentRequests, Effect.void)
          })
        )
        const graph = yield* Effect.promise(() =>
          countingServer((_req, res) =>
            void res.writeHead(302, { location: `${content.origin}/blob`, "content-length": "0" }).end()
          )
        )
        servers.push(content.server, graph.server)
        const download = Effect.scoped(Effect.gen(function*() {
          const api = yield* GraphClient
          const c = yield* api.recordingContent({ userId: "u" }, "m", "r")
          const hash = createHash("sha256")
          yield* c.drain((chunk) => void hash.update(chunk))
          return hash.digest("hex")
        }))
        const shas = yield* Effect.provide(
          Effect.gen(function*() {
            const first = yield* Effect.fork(download)
            // the second download starts while the first one's body is held back by the content host
            yield* Deferred.await(contentRequests)
            const second = yield* download
            return [yield* Fiber.join(first), second]
          }),
          clientLayer({ baseUrl: `${graph.origin}/v1.0`, accessToken: "t" })
        )
        expect(shas).toEqual([sha256(DATA), sha256(DATA)])
        expect(graph.counted.connections).toBe(1)
        expect(content.counted.connections).toBe(2)
      }),
    60_000
  )

  it.live(
    "the scope of an answer whose connection another request took closes without touching that request",
    () =>
      Effect.gen(function*() {
        const secondHeld = gate()
        const { counted, origin, server } = yield* Effect.promise(() =>
          countingServer((req, res) => {
            if (req.url === "/first") return void res.writeHead(200, { "content-length": "5" }).end("first")
            res.writeHead(200, { "content-length": SIZE })
            res.write(DATA.subarray(0, 1000))
            void secondHeld.promise.then(() => res.end(DATA.subarray(1000)))
          })
        )
        servers.push(server)
        const exec = exchangeScoped(new RawPool(), () => Effect.die("only GETs here"))
        const get = (path: string) =>
          exec({ method: "GET", url: new URL(`${origin}${path}`), headers: {}, body: undefined })
        const firstScope = yield* Scope.make()
        const first = yield* Scope.extend(get("/first"), firstScope)
        expect((yield* readAll(first)).toString()).toBe("first")
        const second = yield* Effect.scoped(Effect.gen(function*() {
          const res = yield* get("/second")
          const body = yield* Effect.fork(readAll(res))
          // the first answer's scope closes (and its stream is read again) while the second body flows
          yield* Scope.close(firstScope, Exit.void)
          expect((yield* readAll(first)).length).toBe(0)
          secondHeld.resolve()
          return yield* Fiber.join(body)
        }))
        expect(sha256(second)).toBe(sha256(DATA))
        expect(counted.connections).toBe(1)
      }),
    60_000
  )
})
