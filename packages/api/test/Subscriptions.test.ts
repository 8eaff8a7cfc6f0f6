/**
 * The subscription endpoints through the real request path (retries, Retry-After, typed errors), against
 * a stand-in, said so: a small HTTP server on loopback whose answers are scripted per request (a 500 to a
 * create, a connection cut after a create arrived), which the emulator's fault rules cannot aim at one
 * request. The emulator itself is used in NotificationsEmulator.test.ts. What is asserted here is what the
 * client sent and how it treated each answer.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import {
  GraphClient,
  subscriptionResource,
  LIFECYCLE_URL_REQUIRED_AFTER_MINUTES,
  MAX_ARTIFACT_SUBSCRIPTION_MINUTES,
  type SubscriptionCreate
} from "../src/index.js"

interface Received {
  readonly method: string
  readonly url: string
  readonly body: string
  readonly headers: http.IncomingHttpHeaders
}

/** `status: "reset"`: the connection is cut after the request arrived (no answer at all). */
type Answer = { readonly status: number | "reset"; readonly body?: unknown; readonly headers?: Record<string, string> }

let server: http.Server
let baseUrl: string
const received: Array<Received> = []
let script: Array<Answer> = []

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const parts: Array<Buffer> = []
    req.on("data", (c: Buffer) => parts.push(c))
    req.on("end", () => {
      received.push({
        method: req.method ?? "",
        url: req.url ?? "",
        body: Buffer.concat(parts).toString("utf8"),
        headers: req.headers
      })
      const answer = script.shift() ??
        { status: 500, body: { error: { code: "NoScript", message: "no answer scripted" } } }
      if (answer.status === "reset") return req.socket.destroy()
      const body = answer.body === undefined ? "" : JSON.stringify(answer.body)
      res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers })
      res.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1.0`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

const run = <A, E>(answers: Array<Answer>, effect: Effect.Effect<A, E, GraphClient>) => {
  received.length = 0
  script = [...answers]
  return effect.pipe(
    Effect.provide(GraphClient.layer({
      baseUrl,
      credential: Redacted.make("test-token"),
      policy: { baseDelayMs: 5, maxBackoffMs: 20, maxAttempts: 4 }
    }))
  )
}

const SUB_ID = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
const subscriptionJson = (extra?: Record<string, unknown>) => ({
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
  id: SUB_ID,
  resource: "communications/onlineMeetings/getAllRecordings",
  applicationId: "24d3b144-21ae-4080-943f-7067b395b913",
  changeType: "created",
  clientState: "s3cret",
  notificationUrl: "https://listener.example.test/notify",
  lifecycleNotificationUrl: "https://listener.example.test/lifecycle",
  expirationDateTime: "2026-12-08T10:00:00.0000000Z",
  creatorId: "8ee44408-0679-472c-bc2a-692812af3437",
  includeResourceData: true,
  encryptionCertificate: null,
  encryptionCertificateId: "cert-1",
  latestSupportedTlsVersion: "v1_2",
  notificationContentType: null,
  ...extra
})

const create: SubscriptionCreate = {
  resource: subscriptionResource("recordings", { _tag: "Tenant" }),
  notificationUrl: "https://listener.example.test/notify",
  lifecycleNotificationUrl: "https://listener.example.test/lifecycle",
  expirationDateTime: "2026-12-08T10:00:00Z",
  clientState: Redacted.make("s3cret"),
  includeResourceData: true,
  encryptionCertificate: "MIIBszCCAVmgAwIBAgIU",
  encryptionCertificateId: "cert-1"
}

describe("subscription endpoints", () => {
  it.live("createSubscription POSTs Graph's body and decodes the 201 answer (clientState Redacted)", () =>
    run(
      [{ status: 201, body: subscriptionJson() }],
      Effect.gen(function*() {
        const sub = yield* (yield* GraphClient).createSubscription(create)
        expect(sub.id).toBe(SUB_ID)
        expect(sub.expirationDateTime).toBe("2026-12-08T10:00:00.0000000Z")
        expect(String(sub.clientState)).not.toContain("s3cret")
        expect(received).toHaveLength(1)
        expect(received[0].method).toBe("POST")
        expect(received[0].url).toBe("/v1.0/subscriptions")
        expect(received[0].headers["content-type"]).toBe("application/json")
        expect(received[0].headers.authorization).toBe("Bearer test-token")
        expect(JSON.parse(received[0].body)).toEqual({
          changeType: "created",
          notificationUrl: "https://listener.example.test/notify",
          lifecycleNotificationUrl: "https://listener.example.test/lifecycle",
          resource: "communications/onlineMeetings/getAllRecordings",
          expirationDateTime: "2026-12-08T10:00:00Z",
          clientState: "s3cret",
          includeResourceData: true,
          encryptionCertificate: "MIIBszCCAVmgAwIBAgIU",
          encryptionCertificateId: "cert-1"
        })
      })
    ))

  it.live("createSubscription is not repeated after a 500 (Graph may have created it) but is after a 429", () =>
    run(
      [
        { status: 429, body: { error: { code: "TooManyRequests" } }, headers: { "retry-after": "0" } },
        { status: 500, body: { error: { code: "InternalServerError", message: "boom" } } },
        { status: 201, body: subscriptionJson() }
      ],
      Effect.gen(function*() {
        const error = yield* Effect.flip((yield* GraphClient).createSubscription(create))
        expect(error._tag).toBe("ServerError")
        expect(error.method).toBe("POST")
        expect(error.route).toBe("/subscriptions")
        expect(received.map((r) => r.method)).toEqual(["POST", "POST"])
      })
    ))

  it.live("a connection cut after a create was sent is not repeated; the same cut on a renewal is", () =>
    run(
      [{ status: "reset" }, { status: 201, body: subscriptionJson() }, { status: "reset" }, {
        status: 200,
        body: subscriptionJson()
      }],
      Effect.gen(function*() {
        const graph = yield* GraphClient
        const error = yield* Effect.flip(graph.createSubscription(create))
        expect(error._tag).toBe("TransportError")
        expect(received.map((r) => r.method)).toEqual(["POST"])
        // drop the answer a repeated create would have got
        script.shift()
        yield* graph.renewSubscription(SUB_ID, "2026-12-09T10:00:00Z")
        expect(received.map((r) => r.method)).toEqual(["POST", "PATCH", "PATCH"])
      })
    ))

  it.live("a bad create is a BadRequest before anything is sent", () =>
    run(
      [],
      Effect.gen(function*() {
        const graph = yield* GraphClient
        const plainHttp = yield* Effect.flip(
          graph.createSubscription({ ...create, notificationUrl: "http://example.test/n" })
        )
        expect(plainHttp._tag).toBe("BadRequest")
        expect(plainHttp.message).toContain("https")
        const noCert = yield* Effect.flip(graph.createSubscription({ ...create, encryptionCertificate: undefined }))
        expect(noCert.message).toContain("encryptionCertificate")
        const longState = yield* Effect.flip(
          graph.createSubscription({ ...create, clientState: Redacted.make("x".repeat(129)) })
        )
        expect(longState.message).toContain("clientState")
        expect(longState.message).not.toContain("xxxx")
        expect(received).toHaveLength(0)
      })
    ))

  it.live("renewSubscription PATCHes the expiry (and a new certificate when rotating), retried after a 503", () =>
    run(
      [
        { status: 503, body: { error: { code: "ServiceUnavailable" } }, headers: { "retry-after": "0" } },
        { status: 200, body: subscriptionJson({ expirationDateTime: "2026-12-09T10:00:00Z" }) }
      ],
      Effect.gen(function*() {
        const sub = yield* (yield* GraphClient).renewSubscription(SUB_ID, new Date("2026-12-09T10:00:00Z"), {
          encryptionCertificate: "MIIC",
          encryptionCertificateId: "cert-2"
        })
        expect(sub.expirationDateTime).toBe("2026-12-09T10:00:00Z")
        expect(received.map((r) => `${r.method} ${r.url}`)).toEqual([
          `PATCH /v1.0/subscriptions/${SUB_ID}`,
          `PATCH /v1.0/subscriptions/${SUB_ID}`
        ])
        expect(JSON.parse(received[1].body)).toEqual({
          expirationDateTime: "2026-12-09T10:00:00.000Z",
          encryptionCertificate: "MIIC",
          encryptionCertificateId: "cert-2"
        })
      })
    ))

  it.live("reauthorize and delete send their requests and accept 204; a 404 on delete is NotFound", () =>
    run(
      [{ status: 204 }, { status: 204 }, { status: 404, body: { error: { code: "ResourceNotFound" } } }],
      Effect.gen(function*() {
        const graph = yield* GraphClient
        yield* graph.reauthorizeSubscription(SUB_ID)
        yield* graph.deleteSubscription(SUB_ID)
        const gone = yield* Effect.flip(graph.deleteSubscription("a/b"))
        expect(gone._tag).toBe("NotFound")
        expect(gone.route).toBe("/subscriptions/{subscriptionId}")
        expect(received.map((r) => `${r.method} ${r.url}`)).toEqual([
          `POST /v1.0/subscriptions/${SUB_ID}/reauthorize`,
          `DELETE /v1.0/subscriptions/${SUB_ID}`,
          "DELETE /v1.0/subscriptions/a%2Fb"
        ])
      })
    ))

  it.live("getSubscription and listSubscriptions (paged) decode subscriptions", () =>
    run(
      [
        { status: 200, body: subscriptionJson() },
        { status: 200, body: { value: [subscriptionJson()], "@odata.nextLink": "NEXT" } },
        {
          status: 200,
          body: { value: [subscriptionJson({ id: "second", resource: "users/u1/onlineMeetings/getAllTranscripts" })] }
        }
      ].map((a, i) =>
        i === 1
          ? { ...a, body: { ...(a.body as object), "@odata.nextLink": `${baseUrl}/subscriptions?$skiptoken=2` } }
          : a
      ),
      Effect.gen(function*() {
        const graph = yield* GraphClient
        expect((yield* graph.getSubscription(SUB_ID)).resource).toBe("communications/onlineMeetings/getAllRecordings")
        const all = Chunk.toReadonlyArray(yield* Stream.runCollect(graph.listSubscriptions()))
        expect(all.map((s) => s.id)).toEqual([SUB_ID, "second"])
        expect(received.map((r) => `${r.method} ${r.url}`)).toEqual([
          `GET /v1.0/subscriptions/${SUB_ID}`,
          "GET /v1.0/subscriptions",
          "GET /v1.0/subscriptions?$skiptoken=2"
        ])
      })
    ))
})

describe("subscription resources", () => {
  it("tenant-wide, per organizer, per meeting, and ad hoc calls", () => {
    expect(subscriptionResource("recordings", { _tag: "Tenant" })).toBe(
      "communications/onlineMeetings/getAllRecordings"
    )
    expect(subscriptionResource("transcripts", { _tag: "User", userId: "a/b" })).toBe(
      "users/a%2Fb/onlineMeetings/getAllTranscripts"
    )
    expect(subscriptionResource("transcripts", { _tag: "Meeting", meetingId: "MSo5+/=" })).toBe(
      "communications/onlineMeetings/MSo5%2B%2F%3D/transcripts"
    )
    expect(subscriptionResource("recordings", { _tag: "Tenant" }, "adhocCalls")).toBe(
      "communications/adhocCalls/getAllRecordings"
    )
    expect(() => subscriptionResource("recordings", { _tag: "Meeting", meetingId: "m" }, "adhocCalls")).toThrow()
    expect(MAX_ARTIFACT_SUBSCRIPTION_MINUTES).toBe(4320)
    expect(LIFECYCLE_URL_REQUIRED_AFTER_MINUTES).toBe(60)
  })
})
