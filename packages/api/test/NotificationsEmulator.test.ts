/**
 * The subscription endpoints and the notification pieces end to end against the emulator: create (with
 * Graph's validation handshake answered by a real HTTP receiver on loopback), get, list, renew,
 * reauthorize, delete; an encrypted notification for a recording added afterwards, its validation token
 * checked against the keys the emulator's Entra endpoint publishes, then decrypted; a lifecycle event.
 */
import type { RunningEmulator, TestCa } from "@meeting-artifacts/graph-emulator"
import { startEmulator } from "@meeting-artifacts/graph-emulator"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import {
  artifactOf,
  certificateKeys,
  clientStateMatches,
  decodeChangeNotificationCollection,
  decryptArtifact,
  GraphClient,
  isLifecycleNotification,
  makeValidationTokenValidator,
  rotateCertificates,
  subscriptionResource
} from "../src/index.js"
import { ALICE, clientLayer, meetingId, tenant } from "./helpers.js"

const ca = JSON.parse(process.env.GRAPH_EMULATOR_TEST_CA!) as TestCa
// the app id in the emulator's static access token: validation tokens are issued for the creating app
const APP_ID = "00000000-0000-0000-0000-00000000e4a1"

interface Receiver {
  readonly url: string
  readonly posts: Array<{ readonly path: string; readonly body: string }>
  readonly next: (path: string) => Promise<string>
  readonly close: () => Promise<void>
}

/** A subscriber endpoint: echoes validationToken as text/plain, answers 202 to notifications and records them. */
const startReceiver = async (): Promise<Receiver> => {
  const posts: Array<{ path: string; body: string }> = []
  const waiting: Array<{ path: string; resolve: (body: string) => void }> = []
  const server = http.createServer((req, res) => {
    const parts: Array<Buffer> = []
    req.on("data", (c: Buffer) => parts.push(c))
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1")
      const token = url.searchParams.get("validationToken")
      if (token !== null) {
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8" })
        return res.end(token)
      }
      res.writeHead(202)
      res.end()
      const post = { path: url.pathname, body: Buffer.concat(parts).toString("utf8") }
      const w = waiting.findIndex((x) => x.path === post.path)
      if (w >= 0) waiting.splice(w, 1)[0].resolve(post.body)
      else posts.push(post)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    posts,
    next: (path) => {
      const i = posts.findIndex((p) => p.path === path)
      if (i >= 0) return Promise.resolve(posts.splice(i, 1)[0].body)
      return new Promise((resolve) => waiting.push({ path, resolve }))
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

let emu: RunningEmulator
let receiver: Receiver

beforeAll(async () => {
  emu = await startEmulator({ fixture: tenant(), tokenEndpoint: { ca }, notifications: { allowHttp: true } })
  receiver = await startReceiver()
})
afterAll(async () => {
  await receiver?.close()
  await emu?.close()
})

const clientState = Redacted.make("state-7c1b9e")
// tenant-wide subscriptions need an app-only token (no user subject), as Graph requires
const appOnly = () => clientLayer({ baseUrl: emu.baseUrl, accessToken: emu.issueToken() })

describe("change notifications against the emulator", () => {
  it.live("subscribe, receive an encrypted recording, validate its token, decrypt it; renew, reauthorize, lifecycle, delete", () =>
    Effect.gen(function*() {
      const graph = yield* GraphClient
      const ring = yield* rotateCertificates(undefined)
      const sub = yield* graph.createSubscription({
        resource: subscriptionResource("recordings", { _tag: "Tenant" }),
        notificationUrl: `${receiver.url}/notify`,
        lifecycleNotificationUrl: `${receiver.url}/lifecycle`,
        expirationDateTime: new Date(Date.now() + 2 * 24 * 3600_000),
        clientState,
        includeResourceData: true,
        encryptionCertificate: ring.current.certificate,
        encryptionCertificateId: ring.current.id
      })
      expect(sub.resource).toBe("communications/onlineMeetings/getAllRecordings")
      expect(sub.encryptionCertificateId).toBe(ring.current.id)
      expect((yield* graph.getSubscription(sub.id)).id).toBe(sub.id)
      expect(Chunk.toReadonlyArray(yield* Stream.runCollect(graph.listSubscriptions())).map((s) => s.id)).toContain(
        sub.id
      )

      // a recording that becomes available after the subscription
      const arrived = Effect.promise(() => receiver.next("/notify"))
      emu.addRecording(meetingId(1), {
        id: "rec/new+1=",
        createdDateTime: "2024-01-17T10:00:01.1234567Z",
        contentType: "video/mp4",
        content: { bytes: 1000, seed: 9 }
      })
      const body = yield* decodeChangeNotificationCollection(JSON.parse(yield* arrived))
      const validator = yield* makeValidationTokenValidator({
        appIds: [APP_ID],
        tenantIds: [emu.tenantId],
        authorityHost: emu.authority!.authorityHost
      })
      const valid = yield* validator.validate(body.validationTokens ?? [], body.value.map((n) => n.tenantId))
      expect(valid.map((v) => v.tenantId)).toEqual([emu.tenantId])
      const n = body.value[0]
      expect(n.subscriptionId).toBe(sub.id)
      expect(clientStateMatches(n, clientState)).toBe(true)
      expect(artifactOf(n)).toEqual({ kind: "recordings", call: { meetingId: meetingId(1) }, id: "rec/new+1=" })
      const artifact = yield* decryptArtifact(n, certificateKeys(ring))
      expect(artifact.kind).toBe("recordings")
      expect(artifact.item.id).toBe("rec/new+1=")
      expect(artifact.item.meetingId).toBe(meetingId(1))

      // a token for another app is refused by the same validator's rules
      const otherApp = yield* makeValidationTokenValidator({
        appIds: ["11111111-1111-4111-8111-111111111111"],
        tenantIds: [emu.tenantId],
        authorityHost: emu.authority!.authorityHost
      })
      expect((yield* Effect.flip(otherApp.validate(body.validationTokens ?? []))).reason).toBe("tokenAudience")

      const renewed = yield* graph.renewSubscription(sub.id, new Date(Date.now() + 3 * 24 * 3600_000 - 60_000))
      expect(Date.parse(renewed.expirationDateTime)).toBeGreaterThan(Date.parse(sub.expirationDateTime))
      yield* graph.reauthorizeSubscription(sub.id)

      const lifecycle = Effect.promise(() => receiver.next("/lifecycle"))
      emu.sendLifecycleEvent(sub.id, "missed")
      const event = (yield* decodeChangeNotificationCollection(JSON.parse(yield* lifecycle))).value[0]
      expect(isLifecycleNotification(event)).toBe(true)
      expect(event.lifecycleEvent).toBe("missed")
      expect(clientStateMatches(event, clientState)).toBe(true)

      yield* graph.deleteSubscription(sub.id)
      expect((yield* Effect.flip(graph.getSubscription(sub.id)))._tag).toBe("NotFound")
    }).pipe(Effect.provide(appOnly()), Effect.provide(NodeHttpClient.layerUndici)))

  it.live("a per-organizer transcript subscription: the transcript decrypts with a null createdDateTime", () =>
    Effect.gen(function*() {
      const graph = yield* GraphClient
      const ring = yield* rotateCertificates(undefined)
      const sub = yield* graph.createSubscription({
        resource: subscriptionResource("transcripts", { _tag: "User", userId: ALICE }),
        notificationUrl: `${receiver.url}/organizer`,
        expirationDateTime: new Date(Date.now() + 30 * 60_000),
        clientState,
        includeResourceData: true,
        encryptionCertificate: ring.current.certificate,
        encryptionCertificateId: ring.current.id
      })
      expect(sub.resource).toBe(`users/${ALICE}/onlineMeetings/getAllTranscripts`)
      const arrived = Effect.promise(() => receiver.next("/organizer"))
      emu.addTranscript(meetingId(2), {
        id: "tr/new+2==",
        createdDateTime: "2024-01-18T10:00:02.1234567Z",
        content: { text: "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v A>hi</v>\n" }
      })
      const n = (yield* decodeChangeNotificationCollection(JSON.parse(yield* arrived))).value[0]
      const artifact = yield* decryptArtifact(n, certificateKeys(ring))
      expect(artifact.kind).toBe("transcripts")
      expect(artifact.item.id).toBe("tr/new+2==")
      expect(artifact.item.createdDateTime).toBeNull()
      // the partner lookup listen does next goes through the existing endpoints
      const again = yield* graph.getTranscript({ userId: ALICE }, artifact.item.meetingId!, artifact.item.id)
      expect(again.id).toBe("tr/new+2==")
      yield* graph.deleteSubscription(sub.id)
    }).pipe(Effect.provide(appOnly())))

  it.live("the emulator's refusals come back as BadRequest with Graph's message", () =>
    Effect.gen(function*() {
      const graph = yield* GraphClient
      const error = yield* Effect.flip(graph.createSubscription({
        resource: subscriptionResource("transcripts", { _tag: "Tenant" }),
        notificationUrl: `${receiver.url}/notify`,
        expirationDateTime: new Date(Date.now() + 2 * 3600_000)
      }))
      expect(error._tag).toBe("BadRequest")
      expect(error.status).toBe(400)
      expect(error.message).toContain("lifecycleNotificationUrl")
    }).pipe(Effect.provide(appOnly())))
})
