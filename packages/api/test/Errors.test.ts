/**
 * Every error type produced by a real HTTP response, token refresh on 401,
 * and what spans record.
 *
 * Most answers come from the emulator (tenant-wide 403s and 402 through its
 * tenant policy). Answers the emulator does not produce on purpose (a payload
 * missing a required field, a nextLink to another host, a server without Range
 * support, a stalled body) come from a tiny node:http server defined in this
 * file, on loopback.
 */
import type { AccessToken, TokenCredential } from "@azure/identity"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { generatedBytes, type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { GraphClient, type GraphError, isGraphError, isTenantFatal } from "../src/index.js"
import {
  ALICE,
  bodyBytes,
  clientLayer,
  collectBytes,
  meetingId,
  recordingId,
  sha256,
  tenant,
  WINDOW
} from "./helpers.js"

let emu: RunningEmulator

beforeAll(async () => {
  emu = await startEmulator({ fixture: tenant(), pageSize: 2 })
})
afterAll(() => emu?.close())

const fail = <A>(effect: Effect.Effect<A, GraphError, GraphClient>, layer = clientLayer(emu)) =>
  Effect.provide(Effect.flip(effect), layer)

const expectCommon = (e: GraphError, status: number) => {
  expect(isGraphError(e)).toBe(true)
  expect(e.status).toBe(status)
  expect(e.method).toBe("GET")
  expect(e.route).not.toContain(ALICE)
  expect(e.message).not.toContain(emu.accessToken)
}

describe("errors from the emulator", () => {
  it.live("401 with a token that stays invalid → Unauthorized, after exactly one refresh attempt", () =>
    Effect.gen(function*() {
      emu.setFaults("none")
      emu.resetCounters()
      const expired = emu.issueToken({ ttlSeconds: -60 })
      const e = yield* fail(
        Effect.flatMap(GraphClient, (api) => api.getRecording({ userId: ALICE }, meetingId(0), recordingId(0))),
        clientLayer(emu, { credential: Redacted.make(expired) })
      )
      expect(e._tag).toBe("Unauthorized")
      expectCommon(e, 401)
      expect(e.code).toBe("InvalidAuthenticationToken")
      expect(e.requestId).toMatch(/^[0-9a-f-]{36}$/)
      expect(e.clientRequestId).toMatch(/^[0-9a-f-]{36}$/)
      expect(e.message).not.toContain(expired)
      expect(isTenantFatal(e)).toBe(true)
      // a static token cannot be refreshed: one request, no retry storm
      expect(emu.counters().byStatus["401"]).toBe(1)
    }))

  it.live("401 → a fresh token from the TokenCredential once, then the call succeeds", () =>
    Effect.gen(function*() {
      emu.resetCounters()
      let calls = 0
      // A real TokenCredential implementation: the first token it hands out has already expired
      // at the server although it claims an hour of life (as after a clock jump or a revocation).
      const credential: TokenCredential = {
        getToken: async (): Promise<AccessToken> => {
          calls++
          return {
            token: calls === 1 ? emu.issueToken({ ttlSeconds: -60 }) : emu.issueToken({ ttlSeconds: 3600 }),
            expiresOnTimestamp: Date.now() + 3_600_000
          }
        }
      }
      const { ids, stats } = yield* Effect.provide(
        Effect.gen(function*() {
          const api = yield* GraphClient
          const ids = Chunk.toReadonlyArray(yield* Stream.runCollect(api.getAllRecordings(WINDOW))).map((r) => r.id)
          return { ids, stats: yield* api.stats }
        }),
        GraphClient.layer({ baseUrl: emu.baseUrl, credential })
      )
      expect(ids).toHaveLength(5)
      expect(calls).toBe(2)
      expect(stats.tokenRefreshes).toBe(1)
      expect(emu.counters().byStatus["401"]).toBe(1)
    }))

  it.live("404 → NotFound", () =>
    Effect.gen(function*() {
      const e = yield* fail(
        Effect.flatMap(GraphClient, (api) => api.getRecording({ userId: ALICE }, meetingId(0), "no/such+id="))
      )
      expect(e._tag).toBe("NotFound")
      expectCommon(e, 404)
      expect(e.route).toBe("/users/{userId}/onlineMeetings/{meetingId}/recordings/{recordingId}")
      expect(isTenantFatal(e)).toBe(false)
    }))

  it.live("400 from Graph → BadRequest; a bad argument → BadRequest without any request", () =>
    Effect.gen(function*() {
      const e = yield* fail(
        Effect.flatMap(GraphClient, (api) => api.getMeeting({ userId: ALICE }, meetingId(0))),
        clientLayer({ baseUrl: `${emu.origin}/v9.9`, accessToken: emu.accessToken })
      )
      expect(e._tag).toBe("BadRequest")
      expectCommon(e, 400)
      emu.resetCounters()
      const bad = yield* fail(Effect.flatMap(GraphClient, (api) =>
        Stream.runDrain(api.getAllRecordings({ ...WINDOW, startDateTime: "last tuesday" }))))
      expect(bad._tag).toBe("BadRequest")
      expect(bad.status).toBe(0)
      expect(bad.message).toMatch(/startDateTime must be an ISO 8601 date-time/)
      expect(emu.counters().total).toBe(0)
    }))

  it.live("5xx beyond the retry budget → ServerError with the attempts made", () =>
    Effect.gen(function*() {
      emu.setFaults({ rules: [{ fault: "502", probability: 1 }], maxFaultsPerRequest: 100 })
      const e = yield* fail(
        Effect.flatMap(GraphClient, (api) => api.getRecording({ userId: ALICE }, meetingId(0), recordingId(0))),
        clientLayer(emu, { policy: { maxAttempts: 3 } })
      )
      expect(e._tag).toBe("ServerError")
      expectCommon(e, 502)
      expect(e._tag === "ServerError" && e.attempts).toBe(3)
      expect(e.code).toBe("BadGateway")
    }))

  it.live("a Retry-After longer than the single-wait cap → Throttled at once, carrying the wait asked for", () =>
    Effect.gen(function*() {
      emu.setFaults({
        rules: [{ fault: "429-seconds", probability: 1 }],
        maxFaultsPerRequest: 100,
        retryAfterSeconds: 2
      })
      emu.resetCounters()
      const e = yield* fail(
        Effect.flatMap(GraphClient, (api) => api.getRecording({ userId: ALICE }, meetingId(0), recordingId(0))),
        clientLayer(emu, { policy: { maxSingleWaitMs: 1000 } })
      )
      expect(e._tag).toBe("Throttled")
      expectCommon(e, 429)
      if (e._tag !== "Throttled") throw e
      expect(e.retryAfterMs).toBe(2000)
      expect(e.attempts).toBe(1)
      expect(emu.counters().throttled).toBe(1)
    }))

  it.live("throttled past the total retry budget → Throttled", () =>
    Effect.gen(function*() {
      emu.setFaults({
        rules: [{ fault: "429-seconds", probability: 1 }],
        maxFaultsPerRequest: 100,
        retryAfterSeconds: 1
      })
      const e = yield* fail(
        Effect.flatMap(GraphClient, (api) => api.getRecording({ userId: ALICE }, meetingId(0), recordingId(0))),
        clientLayer(emu, { policy: { maxTotalRetryMs: 1500 } })
      )
      expect(e._tag).toBe("Throttled")
      expect(e._tag === "Throttled" && e.attempts).toBe(2)
    }))

  it.live("a list page that stays malformed → DecodeError after the bounded retries", () =>
    Effect.gen(function*() {
      emu.setFaults({ rules: [{ fault: "malformedJson", probability: 1 }], maxFaultsPerRequest: 100 })
      emu.resetCounters()
      const e = yield* fail(
        Effect.flatMap(GraphClient, (api) => Stream.runDrain(api.getAllRecordings(WINDOW))),
        clientLayer(emu, { policy: { malformedPageRetries: 2 } })
      )
      expect(e._tag).toBe("DecodeError")
      expectCommon(e, 200)
      expect(e._tag === "DecodeError" && e.payload).toBe("CallRecording page")
      expect(emu.counters().faults["malformedJson"]).toBe(3)
      emu.setFaults("none")
    }))

  it.live("nothing listening → TransportError", () =>
    Effect.gen(function*() {
      const closed = createServer()
      yield* Effect.promise(() => new Promise<void>((r) => closed.listen(0, "127.0.0.1", () => r())))
      const port = (closed.address() as AddressInfo).port
      yield* Effect.promise(() => new Promise<void>((r) => closed.close(() => r())))
      const e = yield* fail(
        Effect.flatMap(GraphClient, (api) => api.getMeeting("me", "m")),
        clientLayer({ baseUrl: `http://127.0.0.1:${port}/v1.0`, accessToken: "x" }, { policy: { maxAttempts: 2 } })
      )
      expect(e._tag).toBe("TransportError")
      expect(e.status).toBe(0)
      expect(e._tag === "TransportError" && e.attempts).toBe(2)
    }))
})

describe("tenant-wide errors from the emulator's tenant policy", () => {
  // An app-only token, as a daemon with application permissions has: the access policy applies to those.
  const appOnly = () => clientLayer(emu, { credential: Redacted.make(emu.issueToken({ ttlSeconds: 3600 })) })

  it.live("403 without an application access policy → Forbidden with the admin's PowerShell fix", () =>
    Effect.gen(function*() {
      emu.setFaults("none")
      emu.setPolicy({ noAccessPolicy: true })
      const e = yield* fail(
        Effect.flatMap(GraphClient, (api) => Stream.runDrain(api.listTranscripts({ userId: ALICE }, meetingId(0)))),
        appOnly()
      ).pipe(Effect.ensuring(Effect.sync(() => emu.setPolicy({}))))
      expect(e._tag).toBe("Forbidden")
      if (e._tag !== "Forbidden") throw e
      expectCommon(e, 403)
      expect(e.reason).toBe("NoApplicationAccessPolicy")
      expect(e.message).toMatch(/New-CsApplicationAccessPolicy.*Grant-CsApplicationAccessPolicy/)
      expect(e.requestId).toMatch(/^[0-9a-f-]{36}$/)
      expect(isTenantFatal(e)).toBe(true)
    }))

  it.live("403 GraphAccessToTranscriptsDisabled → Forbidden, reason TranscriptAccessDisabled", () =>
    Effect.gen(function*() {
      emu.setFaults("none")
      emu.setPolicy({ transcriptsDisabled: true })
      const e = yield* fail(
        Effect.flatMap(GraphClient, (api) => Stream.runDrain(api.listTranscripts({ userId: ALICE }, meetingId(0))))
      ).pipe(Effect.ensuring(Effect.sync(() => emu.setPolicy({}))))
      expect(e._tag === "Forbidden" && e.reason).toBe("TranscriptAccessDisabled")
      expect(e.innerCode).toBe("GraphAccessToTranscriptsDisabled")
      expectCommon(e, 403)
    }))

  it.live("402 once the metered quota is used up → PaymentRequired naming billing", () =>
    Effect.gen(function*() {
      emu.setFaults("none")
      emu.setPolicy({ meteredQuotaMinutes: 0 })
      const e = yield* fail(
        Effect.scoped(
          Effect.flatMap(GraphClient, (api) => api.recordingContent({ userId: ALICE }, meetingId(0), recordingId(0)))
        )
      ).pipe(Effect.ensuring(Effect.sync(() => emu.setPolicy({}))))
      expect(e._tag).toBe("PaymentRequired")
      expectCommon(e, 402)
      expect(e.message).toMatch(/billing/)
      expect(isTenantFatal(e)).toBe(true)
    }))
})

// -- answers the emulator does not give: a tiny loopback server -------------------------------------------------

type Handler = (req: IncomingMessage, res: ServerResponse) => void
let tiny: Server
let tinyBase = ""
const handlers = new Map<string, Handler>()
const seen: Array<IncomingMessage["headers"]> = []

beforeAll(async () => {
  tiny = createServer((req, res) => {
    seen.push(req.headers)
    const path = (req.url ?? "").split("?")[0]!
    const h = [...handlers.entries()].find(([suffix]) => path.endsWith(suffix))?.[1]
    if (h) return h(req, res)
    res.writeHead(404, { "content-type": "application/json" }).end(
      JSON.stringify({ error: { code: "NotFound", message: "nope" } })
    )
  })
  await new Promise<void>((r) => tiny.listen(0, "127.0.0.1", () => r()))
  tinyBase = `http://127.0.0.1:${(tiny.address() as AddressInfo).port}/v1.0`
})
afterAll(() => new Promise<void>((r) => (tiny ? tiny.close(() => r()) : r())))

const tinyLayer = () =>
  clientLayer({ baseUrl: tinyBase, accessToken: "static-token-value" }, { policy: { maxAttempts: 2 } })

describe("errors Graph gives that the emulator does not (tiny loopback server)", () => {
  it.live("a payload missing a required field → DecodeError naming the field", () =>
    Effect.gen(function*() {
      handlers.set("/recordings", (_req, res) =>
        res.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({ value: [{ id: "ok" }, { meetingId: "m" }] })
        ))
      const e = yield* fail(
        Effect.flatMap(GraphClient, (api) => Stream.runDrain(api.listRecordings({ userId: "u" }, "m"))),
        tinyLayer()
      )
      expect(e._tag).toBe("DecodeError")
      if (e._tag !== "DecodeError") {
        throw e
      }
      expect(e.field).toBe("value[1].id")
      expect(e.payload).toBe("CallRecording page")
    }))

  it.live("a nextLink to another host is refused instead of sending the token there", () =>
    Effect.gen(function*() {
      handlers.set("/recordings", (_req, res) =>
        res.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({ value: [{ id: "a" }], "@odata.nextLink": "http://198.51.100.7/v1.0/steal?$skiptoken=x" })
        ))
      const e = yield* fail(
        Effect.flatMap(GraphClient, (api) => Stream.runDrain(api.listRecordings({ userId: "u" }, "m"))),
        tinyLayer()
      )
      expect(e._tag).toBe("BadRequest")
      expect(e.message).toMatch(/refusing to send credentials/)
    }))

  it.live("a server without Range support: a cut-off body is fetched again from byte 0 and the consumer sees each byte once", () =>
    Effect.gen(function*() {
      const size = 300_000
      const body = generatedBytes(11, size)
      let requests = 0
      const ranges: Array<string | undefined> = []
      handlers.set("/content", (req, res) => {
        requests++
        ranges.push(req.headers["range"])
        // Ignores Range; the first answer is cut off after 100 000 bytes.
        res.writeHead(200, { "content-type": "video/mp4", "content-length": String(size) })
        if (requests === 1) {
          res.write(body.subarray(0, 100_000), () => res.destroy())
        } else {
          res.end(body)
        }
      })
      const { bytes, stats } = yield* Effect.provide(
        Effect.scoped(Effect.gen(function*() {
          const api = yield* GraphClient
          const c = yield* api.recordingContent({ userId: "u" }, "m", "r")
          expect(c.contentLength).toBe(size)
          return { bytes: yield* collectBytes(c.stream), stats: yield* api.stats }
        })),
        tinyLayer()
      )
      expect(bytes.length).toBe(size)
      expect(sha256(bytes)).toBe(sha256(body))
      expect(requests).toBe(2)
      expect(ranges[0]).toBeUndefined()
      expect(ranges[1]).toMatch(/^bytes=\d+-$/)
      expect(stats.resumes).toBe(1)
    }))

  for (const how of ["stream", "drain"] as const) {
    it.live(`a body that stalls is treated as cut off after the idle timeout and resumed with Range (Content.${how})`, () =>
      Effect.gen(function*() {
        const size = 200_000
        const body = generatedBytes(12, size)
        const ranges: Array<string | undefined> = []
        let clientHungUp = false
        handlers.set("/content", (req, res) => {
          const range = req.headers["range"]
          ranges.push(range)
          if (range === undefined) {
            // half the body, then silence with the connection open
            res.writeHead(200, { "content-type": "video/mp4", "content-length": String(size) })
            res.write(body.subarray(0, 50_000))
            // the client must give up on its own: we only hang up much later
            let serverHungUp = false
            const late = setTimeout(() => {
              serverHungUp = true
              res.destroy()
            }, 30_000)
            late.unref()
            res.on("close", () => {
              clientHungUp = !serverHungUp
              clearTimeout(late)
            })
            return
          }
          const start = Number(/bytes=(\d+)-/.exec(range)![1])
          res.writeHead(206, {
            "content-type": "video/mp4",
            "content-length": String(size - start),
            "content-range": `bytes ${start}-${size - 1}/${size}`
          })
          res.end(body.subarray(start))
        })
        const bytes = yield* Effect.provide(
          Effect.scoped(
            Effect.flatMap(
              GraphClient,
              (api) => Effect.flatMap(api.recordingContent({ userId: "u" }, "m", "r"), (c) => bodyBytes(c, how))
            )
          ),
          clientLayer({ baseUrl: tinyBase, accessToken: "t" }, { policy: { bodyIdleTimeoutMs: 300 } })
        )
        expect(sha256(bytes)).toBe(sha256(body))
        expect(ranges).toEqual([undefined, "bytes=50000-"])
        expect(clientHungUp).toBe(true)
      }))
  }

  it.live("spans name the route template, status and attempts, and never carry the token", () =>
    Effect.gen(function*() {
      handlers.set(
        "/recordings",
        (_req, res) =>
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ value: [{ id: "a" }] }))
      )
      const spans: Array<{ name: string; attributes: Map<string, unknown> }> = []
      const tracer = Tracer.make({
        span: (name, parent, context, links, startTime, kind) => {
          const attributes = new Map<string, unknown>()
          const span: Tracer.Span = {
            _tag: "Span",
            name,
            spanId: `s${spans.length}`,
            traceId: "t",
            parent,
            context,
            status: { _tag: "Started", startTime },
            attributes,
            links,
            sampled: true,
            kind,
            end: () => {},
            attribute: (k, v) => void attributes.set(k, v),
            event: () => {},
            addLinks: () => {}
          }
          spans.push({ name, attributes })
          return span
        },
        context: (f) => f()
      })
      yield* Effect.provide(
        Effect.flatMap(
          GraphClient,
          (api) => Stream.runDrain(api.listRecordings({ userId: "user-with-id" }, "meeting/1"))
        ),
        tinyLayer()
      ).pipe(Effect.withTracer(tracer))
      const span = spans.find((s) => s.name === "GraphClient.listRecordings")
      expect(span).toBeDefined()
      expect(span!.attributes.get("graph.route")).toBe("/users/{userId}/onlineMeetings/{meetingId}/recordings")
      expect(span!.attributes.get("http.response.status_code")).toBe(200)
      expect(span!.attributes.get("graph.attempts")).toBe(1)
      const everything = JSON.stringify(spans.map((s) => [s.name, [...s.attributes.entries()]]))
      expect(everything).not.toContain("static-token-value")
      expect(everything).not.toContain("user-with-id")
      expect(seen.at(-1)?.["authorization"]).toBe("Bearer static-token-value")
    }))
})

describe("stats", () => {
  it.live("count requests and bytes", () =>
    Effect.gen(function*() {
      emu.setFaults("none")
      const s = yield* Effect.provide(
        Effect.gen(function*() {
          const api = yield* GraphClient
          yield* Effect.scoped(
            Effect.flatMap(api.recordingContent({ userId: ALICE }, meetingId(0), recordingId(0)), (c) =>
              Stream.runDrain(c.stream))
          )
          return yield* api.stats
        }),
        clientLayer(emu)
      )
      expect(s.requests).toBe(1)
      expect(s.bytes).toBe(150_000)
    }))
})
