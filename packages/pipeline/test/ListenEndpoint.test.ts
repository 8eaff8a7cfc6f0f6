/**
 * The listen endpoint without Graph: the real HTTP server on loopback and the real SQLite checkpoint
 * store, with a stand-in for the api's decryption (a mock only of what the api package owns and tests).
 *
 * - the validation handshake echoes the token as text/plain;
 * - wrong clientState / unknown subscription / bad tokens / a refused decryption are counted, stored nowhere;
 * - a notification is stored before the 202, a replay is a no-op, a full queue is 503 + Retry-After;
 * - more requests in work than allowed get 503 at once.
 */
import type { EncryptedContent } from "@meeting-artifacts/api"
import { CheckpointStore } from "@meeting-artifacts/sinks"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import type { ListenEvent } from "../src/ListenEvent.js"
import * as Receive from "../src/internal/listenReceive.js"
import * as Server from "../src/internal/listenServer.js"

const scopes: Array<Scope.CloseableScope> = []
afterEach(async () => {
  for (const s of scopes.splice(0)) await Effect.runPromise(Scope.close(s, Exit.void))
})

const subscription: CheckpointStore.ListenSubscription = {
  id: "sub-1",
  resource: "communications/onlineMeetings/getAllRecordings",
  clientState: "the-secret",
  expirationDateTime: "2099-01-01T00:00:00Z",
  notificationUrl: "https://example.test/n",
  lifecycleNotificationUrl: null,
  certificateId: "c1",
  createdAt: "2026-01-01T00:00:00Z"
}

/** Decryption stand-in: `data` is the artifact as JSON unless it says "tampered". */
const decrypt = (content: EncryptedContent) =>
  content.data === "tampered"
    ? Effect.fail("signature" as const)
    : Effect.succeed(JSON.parse(Buffer.from(content.data, "base64").toString("utf8")) as Receive.Announced)

const notification = (id: string, over: Record<string, unknown> = {}) => ({
  subscriptionId: "sub-1",
  clientState: "the-secret",
  changeType: "created",
  resource: `communications/onlineMeetings('m-1')/recordings('${id}')`,
  resourceData: { id },
  encryptedContent: {
    data: Buffer.from(JSON.stringify({ id, meetingId: "m-1", organizerId: "o-1" })).toString("base64"),
    dataSignature: "sig",
    dataKey: "key",
    encryptionCertificateId: "c1"
  },
  ...over
})

const start = async (options: { queueLimit?: number; maxInFlight?: number; hold?: Promise<void> } = {}) => {
  const scope = await Effect.runPromise(Scope.make())
  scopes.push(scope)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ma-listen-"))
  const checkpoint = await Effect.runPromise(
    Scope.extend(CheckpointStore.makeSqlite(path.join(dir, "state.sqlite")), scope)
  )
  const events: Array<ListenEvent> = []
  const lifecycle: Array<string> = []
  const { receive } = Receive.make({
    checkpoint,
    subscriptions: () => new Map([["sub-1", subscription]]),
    decrypt,
    // "keys-down": the authority's signing keys cannot be fetched right now
    validateTokens: (tokens) =>
      tokens.every((t) => t === "good")
        ? Effect.void
        : Effect.fail(tokens.includes("keys-down") ? "unavailable" as const : "invalid" as const),
    queueLimit: options.queueLimit ?? 100,
    event: (e) => void events.push(e),
    wake: Effect.void,
    lifecycle: (_s, e) => Effect.sync(() => void lifecycle.push(e))
  })
  const url = await Effect.runPromise(Scope.extend(
    Server.serve({
      host: "127.0.0.1",
      port: 0,
      tls: null,
      maxInFlight: options.maxInFlight ?? 8,
      maxBodyBytes: 64 * 1024,
      handle: async (body) => {
        if (body.includes("hold")) await options.hold
        return Effect.runPromise(receive(body))
      }
    }),
    scope
  ))
  const post = async (body: unknown, query = "") => {
    const res = await fetch(`${url}notify${query}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body)
    })
    return {
      status: res.status,
      retryAfter: res.headers.get("retry-after"),
      text: await res.text(),
      type: res.headers.get("content-type")
    }
  }
  const pending = () => Effect.runPromise(checkpoint.listPending(1000))
  return { url, post, events, lifecycle, pending, checkpoint }
}

const rejections = (events: ReadonlyArray<ListenEvent>) =>
  events.flatMap((e) => (e._tag === "NotificationRejected" ? [e.reason] : []))

describe("listen endpoint", () => {
  it("echoes the validation token as text/plain", async () => {
    const { post } = await start()
    const token = "Validation: Testing client application reachability for subscription Request-Id: 1 <b>"
    const r = await post("", `?validationToken=${encodeURIComponent(token)}`)
    expect(r.status).toBe(200)
    expect(r.text).toBe(token)
    expect(r.type).toMatch(/^text\/plain/)
  })

  it("stores an announced artifact before answering 202; a replay is a no-op", async () => {
    const { events, pending, post } = await start()
    const r = await post({ value: [notification("r-1")], validationTokens: ["good"] })
    expect(r.status).toBe(202)
    expect((await pending()).map((p) => [p.kind, p.id, p.meetingId, p.organizerId])).toEqual([
      ["recording", "r-1", "m-1", "o-1"]
    ])
    expect((await post({ value: [notification("r-1")], validationTokens: ["good"] })).status).toBe(202)
    expect(await pending()).toHaveLength(1)
    expect(events.flatMap((e) => (e._tag === "NotificationAccepted" ? [e.outcome] : []))).toEqual([
      "queued",
      "duplicate"
    ])
  })

  it("refuses forged notifications, counts each reason, and stores nothing", async () => {
    const { events, pending, post } = await start()
    expect((await post({ value: [notification("f-1", { clientState: "guess" })], validationTokens: ["good"] })).status)
      .toBe(403)
    expect(
      (await post({ value: [notification("f-2", { subscriptionId: "other" })], validationTokens: ["good"] })).status
    )
      .toBe(403)
    expect((await post({ value: [notification("f-3")], validationTokens: ["forged"] })).status).toBe(403)
    expect((await post({ value: [notification("f-4")] })).status).toBe(403)
    const tampered = notification("f-5")
    expect(
      (await post({
        value: [{ ...tampered, encryptedContent: { ...tampered.encryptedContent, data: "tampered" } }],
        validationTokens: ["good"]
      })).status
    ).toBe(403)
    // The clear resourceData names another artifact than the signed payload.
    expect(
      (await post({ value: [notification("f-6", { resourceData: { id: "f-7" } })], validationTokens: ["good"] }))
        .status
    ).toBe(403)
    expect((await post("{nope")).status).toBe(400)
    expect(rejections(events)).toEqual([
      "clientState",
      "unknownSubscription",
      "validationTokens",
      "validationTokens",
      "signature",
      "payload",
      "malformed"
    ])
    expect(await pending()).toEqual([])
  })

  it("a full queue answers 503 with Retry-After; what was stored stays", async () => {
    const { pending, post } = await start({ queueLimit: 2 })
    expect((await post({ value: [notification("q-1"), notification("q-2")], validationTokens: ["good"] })).status).toBe(
      202
    )
    const full = await post({ value: [notification("q-3")], validationTokens: ["good"] })
    expect(full.status).toBe(503)
    expect(Number(full.retryAfter)).toBeGreaterThan(0)
    expect((await pending()).map((p) => p.id).sort()).toEqual(["q-1", "q-2"])
  })

  it("tokens that cannot be checked now (signing keys unreachable) answer 503, not a refusal", async () => {
    const { events, pending, post } = await start()
    const unchecked = await post({ value: [notification("k-1")], validationTokens: ["keys-down"] })
    expect(unchecked.status).toBe(503)
    expect(Number(unchecked.retryAfter)).toBeGreaterThan(0)
    expect(await pending()).toEqual([])
    expect(rejections(events)).toEqual([])
    expect(events.some((e) => e._tag === "Warning" && /signing keys/.test(e.message))).toBe(true)
    // Graph's redelivery, once the keys can be fetched again, is stored.
    expect((await post({ value: [notification("k-1")], validationTokens: ["good"] })).status).toBe(202)
    expect((await pending()).map((p) => p.id)).toEqual(["k-1"])
  })

  it("more requests in work than allowed get 503 at once (bounded memory)", async () => {
    let release!: () => void
    const hold = new Promise<void>((r) => (release = r))
    const { post } = await start({ maxInFlight: 2, hold })
    const held = [post({ value: [], hold: true }), post({ value: [], hold: true })]
    // The two in work hold their slots until released; a third is refused without being read.
    let third: Awaited<ReturnType<typeof post>> | undefined
    for (let i = 0; i < 200 && third?.status !== 503; i++) third = await post({ value: [] })
    expect(third?.status).toBe(503)
    expect(Number(third?.retryAfter)).toBeGreaterThan(0)
    release()
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([202, 202])
  })

  it("hands lifecycle events of our subscriptions on, and refuses them with a wrong clientState", async () => {
    const { events, lifecycle, post } = await start()
    const event = (e: string, clientState = "the-secret") => ({
      subscriptionId: "sub-1",
      clientState,
      lifecycleEvent: e
    })
    expect((await post({ value: [event("missed"), event("reauthorizationRequired")] })).status).toBe(202)
    expect((await post({ value: [event("subscriptionRemoved", "guess")] })).status).toBe(403)
    expect(lifecycle).toEqual(["missed", "reauthorizationRequired"])
    expect(rejections(events)).toEqual(["clientState"])
  })
})
