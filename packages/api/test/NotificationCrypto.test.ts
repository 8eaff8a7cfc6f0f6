import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import {
  artifactOf,
  type ChangeNotification,
  clientStateMatches,
  decodeChangeNotificationCollection,
  decryptArtifact,
  decryptContent,
  isLifecycleNotification,
  type NotificationError
} from "../src/index.js"
import { encryptFor, makeKeyPair } from "./notificationFixtures.js"

const MEETING = "MSo5NzZmNGIzMS1mZDAxLTRlMGItOTE3OC0yOWNjNDBjMTQ0MzgqMCoqMTk6bWVldGluZ19aalk0"
const RECORDING = "VjIjIzE5NzZmNGIzMS1mZDAxLTRlMGItOTE3OC0yOWNjNDBjMTQ0Mzgy/+=="
const TRANSCRIPT = "MSMjMCMjOGIzMmI0MzktY2QxNy00ODc1LTg1NWQtYzA1MDM0ZmFkZWMx"

// the decrypted payload as Graph's recording/transcript notification page shows it: no @odata.type,
// createdDateTime null on transcripts, "content": null and other fields the schema does not name
const recordingPayload = {
  id: RECORDING,
  meetingId: MEETING,
  createdDateTime: "2023-07-25T09:35:02.85022Z",
  recordingContentUrl: `communications/onlineMeetings/${MEETING}/recordings/${RECORDING}/content`,
  meetingOrganizer: {
    application: null,
    device: null,
    user: { userIdentityType: "aadUser", id: "976f4b31-fd01-4e0b-9178-29cc40c14438", displayName: null }
  },
  content: null
}
const transcriptPayload = {
  id: TRANSCRIPT,
  meetingId: MEETING,
  transcriptContentUrl: `communications/onlineMeetings/${MEETING}/transcripts/${TRANSCRIPT}/content`,
  createdDateTime: null,
  meetingOrganizer: { application: null, device: null, user: { id: "976f4b31-fd01-4e0b-9178-29cc40c14438" } }
}

const current = makeKeyPair("cert-2026-12")
const previous = makeKeyPair("cert-2026-09")
const keys = [previous.key, current.key]

const notification = (
  content: unknown,
  kind: "recordings" | "transcripts",
  id: string,
  contentKey = "encryptedContent"
) => ({
  subscriptionId: "516220d0-0f88-46cc-ac39-02b687687526",
  changeType: "created",
  clientState: "s3cret-state",
  subscriptionExpirationDateTime: "2023-09-17T08:13:26.3265566+00:00",
  resource: `communications/onlineMeetings('${MEETING}')/${kind}('${id}')`,
  resourceData: {
    id,
    "@odata.type": kind === "recordings" ? "#Microsoft.Graph.callRecording" : "#Microsoft.Graph.callTranscript",
    "@odata.id": `communications/onlineMeetings('${MEETING}')/${kind}('${id}')`
  },
  [contentKey]: content,
  tenantId: "2432b57b-0abd-43db-aa7b-16eadd115d34",
  someFutureField: { x: 1 }
})

const decodeOne = (body: unknown) =>
  Effect.map(decodeChangeNotificationCollection(body), (c) => c.value[0] as ChangeNotification)

const reasonOf = <A>(effect: Effect.Effect<A, NotificationError>) => Effect.map(Effect.flip(effect), (e) => e.reason)

describe("change notifications with resource data", () => {
  it.effect("decrypts a recording encrypted as Graph's doc describes, into a CallRecording", () =>
    Effect.gen(function*() {
      const { content } = encryptFor(current, recordingPayload)
      const n = yield* decodeOne({ value: [notification(content, "recordings", RECORDING)], validationTokens: ["x"] })
      const artifact = yield* decryptArtifact(n, keys)
      expect(artifact.kind).toBe("recordings")
      expect(artifact.item.id).toBe(RECORDING)
      expect(artifact.item.meetingId).toBe(MEETING)
      expect(artifact.item.meetingOrganizer?.user?.id).toBe("976f4b31-fd01-4e0b-9178-29cc40c14438")
    }))

  it.effect("reads EncryptedContent (capital E, as in Graph's transcript example) and a null createdDateTime", () =>
    Effect.gen(function*() {
      const { content } = encryptFor(previous, transcriptPayload)
      const n = yield* decodeOne({ value: [notification(content, "transcripts", TRANSCRIPT, "EncryptedContent")] })
      expect(n.encryptedContent?.encryptionCertificateId).toBe("cert-2026-09")
      const artifact = yield* decryptArtifact(n, keys)
      expect(artifact.kind).toBe("transcripts")
      expect(artifact.item.id).toBe(TRANSCRIPT)
      expect(artifact.item.createdDateTime).toBeNull()
    }))

  it.effect("chooses the key by encryptionCertificateId (old and new keys during a rotation)", () =>
    Effect.gen(function*() {
      const a = yield* decryptContent(encryptFor(current, { id: "new" }).content, keys)
      const b = yield* decryptContent(encryptFor(previous, { id: "old" }).content, keys)
      expect(JSON.parse(a)).toEqual({ id: "new" })
      expect(JSON.parse(b)).toEqual({ id: "old" })
    }))

  it.effect("tampered data is refused on its signature and never decrypted", () =>
    Effect.gen(function*() {
      const original = encryptFor(current, recordingPayload)
      // data that would decrypt fine under the same key (another resource), with the original signature:
      // only the signature check can refuse it
      const forged = encryptFor(current, { ...recordingPayload, id: "forged" }, { symmetricKey: original.symmetricKey })
      const content = { ...original.content, data: forged.content.data }
      const n = yield* decodeOne({ value: [notification(content, "recordings", RECORDING)] })
      const error = yield* Effect.flip(decryptArtifact(n, keys))
      expect(error.reason).toBe("signature")
      expect(error.subscriptionId).toBe("516220d0-0f88-46cc-ac39-02b687687526")
      expect(error.message).not.toContain("forged")
    }))

  it.effect("a missing dataSignature is a signature error too", () =>
    Effect.gen(function*() {
      const { content } = encryptFor(current, recordingPayload)
      const { dataSignature: _, ...unsigned } = content
      expect(yield* reasonOf(decryptContent(unsigned, keys))).toBe("signature")
    }))

  it.effect("an unknown certificate id, a key of another certificate, and truncated fields", () =>
    Effect.gen(function*() {
      const { content } = encryptFor(current, recordingPayload)
      expect(yield* reasonOf(decryptContent({ ...content, encryptionCertificateId: "retired" }, keys))).toBe(
        "unknownCertificate"
      )
      // the id names the previous certificate, but the key was wrapped for the current one
      expect(yield* reasonOf(decryptContent({ ...content, encryptionCertificateId: previous.key.id }, keys))).toBe(
        "key"
      )
      expect(yield* reasonOf(decryptContent({ ...content, dataKey: content.dataKey.slice(0, 200) }, keys))).toBe("key")
      expect(yield* reasonOf(decryptContent({ ...content, data: content.data.slice(0, -24) }, keys))).toBe("signature")
      expect(yield* reasonOf(decryptContent({ ...content, data: `${content.data}!` }, keys))).toBe("signature")
    }))

  it.effect("decrypted content that is not a recording is a payload error", () =>
    Effect.gen(function*() {
      const { content } = encryptFor(current, { meetingId: MEETING })
      const n = yield* decodeOne({ value: [notification(content, "recordings", RECORDING)] })
      const error = yield* Effect.flip(decryptArtifact(n, keys))
      expect(error.reason).toBe("payload")
      expect(error.message).toContain("callRecording")
    }))
})

describe("change notification schemas", () => {
  it.effect("a lifecycle notification (Graph's shape) decodes and is told apart", () =>
    Effect.gen(function*() {
      const c = yield* decodeChangeNotificationCollection({
        value: [{
          subscriptionId: "sub-1",
          subscriptionExpirationDateTime: "2019-03-20T11:00:00.0000000Z",
          tenantId: "t",
          clientState: "s3cret-state",
          lifecycleEvent: "reauthorizationRequired"
        }, notification(encryptFor(current, recordingPayload).content, "recordings", RECORDING)]
      })
      expect(isLifecycleNotification(c.value[0])).toBe(true)
      expect(c.value[0].lifecycleEvent).toBe("reauthorizationRequired")
      expect(isLifecycleNotification(c.value[1])).toBe(false)
    }))

  it.effect("clientState is Redacted and compared exactly", () =>
    Effect.gen(function*() {
      const n = yield* decodeOne({ value: [notification(null, "recordings", RECORDING)] })
      expect(String(n.clientState)).not.toContain("s3cret")
      expect(clientStateMatches(n, Redacted.make("s3cret-state"))).toBe(true)
      expect(clientStateMatches(n, Redacted.make("s3cret-statf"))).toBe(false)
      expect(clientStateMatches(n, Redacted.make("s3cret"))).toBe(false)
      const bare = yield* decodeOne({ value: [{ subscriptionId: "s" }] })
      expect(clientStateMatches(bare, Redacted.make("s3cret-state"))).toBe(false)
    }))

  it("a body without value, or a notification without subscriptionId, does not decode", () => {
    expect(Either.isLeft(Effect.runSync(Effect.either(decodeChangeNotificationCollection({ validationTokens: [] })))))
      .toBe(
        true
      )
    expect(Either.isLeft(Effect.runSync(Effect.either(decodeChangeNotificationCollection({ value: [{}] }))))).toBe(true)
  })

  it("artifactOf reads Graph's quoted resource form, the slash form and ad hoc calls", () => {
    const quoted = { subscriptionId: "s", resource: `communications/onlineMeetings('${MEETING}')/recordings('it''s')` }
    expect(artifactOf(quoted)).toEqual({ kind: "recordings", call: { meetingId: MEETING }, id: "it's" })
    const slash = {
      subscriptionId: "s",
      resource: `users/u-1/onlineMeetings/${encodeURIComponent(MEETING)}/transcripts/${encodeURIComponent(RECORDING)}`
    }
    expect(artifactOf(slash)).toEqual({ kind: "transcripts", call: { meetingId: MEETING }, id: RECORDING })
    const adhoc = {
      subscriptionId: "s",
      resourceData: { "@odata.id": "communications/adhocCalls('call-1')/recordings('r')" }
    }
    expect(artifactOf(adhoc)).toEqual({ kind: "recordings", call: { adhocCallId: "call-1" }, id: "r" })
    expect(artifactOf({ subscriptionId: "s", resource: "users/u/messages('m')" })).toBeNull()
  })
})
