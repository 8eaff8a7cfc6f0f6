/**
 * Change notifications: `/subscriptions` with Graph's validation handshake, encrypted notifications with
 * resource data and validation tokens, lifecycle events, retries and delivery faults, against a real HTTPS
 * receiver on loopback.
 */
import * as NodeCrypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createTestCa, type RunningEmulator, startEmulator, type TenantFixture } from "../src/index.js"
import { enc, get } from "./helpers.js"
import {
  afterHandshake,
  type Behaviour,
  encryptionCertificate,
  type Receiver,
  sharedCa,
  startReceiver
} from "./notificationReceiver.js"

const TENANT = "5ab5c41b-0000-4000-8000-000000000001"
const U1 = "5ab00001-0000-4000-8000-000000000001"
const U2 = "5ab00002-0000-4000-8000-000000000002"
const M1 = "bWVldGluZy8x+Kw=="
const M2 = "bWVldGluZzI="
const CALL = "c4ll-0001"

const fixture = (): TenantFixture => ({
  tenantId: TENANT,
  users: [{ id: U1, displayName: "One", userPrincipalName: "one@contoso.example" }, { id: U2, displayName: "Two" }],
  meetings: [{ id: M1, organizerId: U1 }, { id: M2, organizerId: U2 }],
  adhocCalls: [{ id: CALL, userId: U1 }]
})

let seq = 0
const recording = () => ({
  id: `rec/${++seq}+=`,
  callId: "call-1",
  contentCorrelationId: `corr-${seq}`,
  createdDateTime: "2024-05-01T10:00:00Z",
  endDateTime: "2024-05-01T10:30:00Z",
  content: { bytes: 100, seed: seq }
})
const VTT = "\uFEFFWEBVTT\r\n\r\nab/10-0\r\n0:0:1.5 --> 0:0:4.250\r\n<v Weiß, Jürgen>Hallo,\r\nzusammen.</v>\r\n\r\n" +
  "00:00:05.000 --> 00:00:06.000\r\nNo voice here.\r\n"
const transcript = () => ({
  id: `tr/${++seq}+=`,
  createdDateTime: "2024-05-01T10:00:02Z",
  content: { text: VTT }
})

const inMinutes = (m: number) => new Date(Date.now() + m * 60_000).toISOString()

const graph = (emu: RunningEmulator, method: string, path: string, body?: unknown, token = emu.issueToken()) =>
  fetch(`${emu.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })

const admin = (emu: RunningEmulator, method: string, path: string, body?: unknown) =>
  fetch(`${emu.origin}/_emulator/${path}`, {
    method,
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })

describe("change notifications", () => {
  let emu: RunningEmulator
  let rx: Receiver
  let cert: Awaited<ReturnType<typeof encryptionCertificate>>

  beforeAll(async () => {
    rx = await startReceiver()
    cert = await encryptionCertificate()
    emu = await startEmulator({
      fixture: fixture(),
      tokenEndpoint: { ca: sharedCa() },
      // Graph's deadlines (3 s ack, 10 s validation): a loaded machine must not turn a 202 into a retry
      notifications: { retryDelaysMs: [20, 20, 20] }
    })
  })
  afterAll(async () => {
    await emu.close()
    await rx.close()
  })

  const subscribe = async (overrides: Record<string, unknown> = {}, token?: string) => {
    const res = await graph(emu, "POST", "/subscriptions", {
      changeType: "created",
      notificationUrl: `${rx.origin}/notify`,
      lifecycleNotificationUrl: `${rx.origin}/lifecycle`,
      resource: "communications/onlineMeetings/getAllRecordings",
      expirationDateTime: inMinutes(120),
      clientState: "s3cret",
      includeResourceData: true,
      encryptionCertificate: cert.base64,
      encryptionCertificateId: "cert-1",
      ...overrides
    }, token)
    return { status: res.status, body: (await res.json()) as any }
  }
  const unsubscribe = async (id: string) =>
    expect((await graph(emu, "DELETE", `/subscriptions/${id}`)).status).toBe(204)
  const addRecording = async (meetingId: string, r = recording()) => {
    const res = await admin(emu, "POST", "recordings", { meetingId, recording: r })
    expect(res.status).toBe(201)
    return r
  }
  const idle = async () => expect((await admin(emu, "POST", "notifications/idle")).status).toBe(204)

  const decrypt = (encrypted: any, privateKeyPem = cert.privateKeyPem) => {
    const key = NodeCrypto.privateDecrypt(
      { key: privateKeyPem, padding: NodeCrypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
      Buffer.from(encrypted.dataKey, "base64")
    )
    const data = Buffer.from(encrypted.data, "base64")
    const signature = NodeCrypto.createHmac("sha256", key).update(data).digest()
    const signed = NodeCrypto.timingSafeEqual(signature, Buffer.from(encrypted.dataSignature, "base64"))
    const decipher = NodeCrypto.createDecipheriv("aes-256-cbc", key, key.subarray(0, 16))
    const json = Buffer.concat([decipher.update(data), decipher.final()]).toString("utf8")
    return { key, signed, payload: JSON.parse(json) }
  }

  it("validates notificationUrl then lifecycleNotificationUrl with Graph's handshake, then creates the subscription", async () => {
    const before = rx.received.length
    const { status, body } = await subscribe()
    expect(status).toBe(201)
    const handshake = rx.received.slice(before)
    expect(handshake.map((r) => r.path)).toEqual(["/notify", "/lifecycle"])
    for (const r of handshake) {
      expect(r.contentType).toBe("text/plain; charset=utf-8")
      expect(r.query.get("validationToken")).toMatch(/^Validation: .+ Request-Id: [0-9a-f-]{36}$/)
    }
    expect(body).toMatchObject({
      "@odata.context": `${emu.origin}/v1.0/$metadata#subscriptions/$entity`,
      resource: "communications/onlineMeetings/getAllRecordings",
      changeType: "created",
      clientState: "s3cret",
      includeResourceData: true,
      encryptionCertificateId: "cert-1",
      applicationId: "00000000-0000-0000-0000-00000000e4a1"
    })
    const got = await graph(emu, "GET", `/subscriptions/${body.id}`)
    expect(got.status).toBe(200)
    expect(((await got.json()) as any).expirationDateTime).toBe(body.expirationDateTime)
    const list = (await (await graph(emu, "GET", "/subscriptions")).json()) as any
    expect(list.value.map((s: any) => s.id)).toContain(body.id)
    expect(emu.counters().byRoute.subscriptions).toBeGreaterThanOrEqual(2)
    await unsubscribe(body.id)
    expect((await graph(emu, "GET", `/subscriptions/${body.id}`)).status).toBe(404)
  })

  it("refuses the subscription when the endpoint does not echo the token exactly, answers non-200 or not text/plain", async () => {
    const cases: Array<[string, Behaviour, string]> = [
      ["/wrong", () => [200, "something else", "text/plain"], "must exactly match validationToken"],
      ["/encoded", (r) => [200, encodeURIComponent(r.query.get("validationToken")!), "text/plain"], "exactly match"],
      ["/status", () => [500, "", "text/plain"], "must respond with 200 OK"],
      ["/json", (r) => [200, JSON.stringify(r.query.get("validationToken")), "application/json"], "text/plain"]
    ]
    const failures = emu.counters().notifications.validationFailures
    for (const [path, behaviour, message] of cases) {
      rx.on(path, behaviour)
      const { status, body } = await subscribe({ notificationUrl: `${rx.origin}${path}` })
      expect(status).toBe(400)
      expect(body.error.code).toBe("InvalidRequest")
      expect(body.error.message).toContain(message)
    }
    // a bad lifecycle endpoint refuses it too
    const lifecycle = await subscribe({ lifecycleNotificationUrl: `${rx.origin}/wrong` })
    expect(lifecycle.status).toBe(400)
    expect(emu.counters().notifications.validationFailures).toBe(failures + cases.length + 1)
    const list = (await (await graph(emu, "GET", "/subscriptions")).json()) as any
    expect(list.value).toEqual([])
  })

  it("refuses expiry and certificate requests as Graph does", async () => {
    const refused = async (overrides: Record<string, unknown>, message: string) => {
      const { status, body } = await subscribe(overrides)
      expect(status, JSON.stringify(overrides)).toBe(400)
      expect(body.error.message).toContain(message)
    }
    await refused({ expirationDateTime: inMinutes(-1) }, "in the future")
    await refused({ expirationDateTime: inMinutes(4321) }, "4320 minutes")
    await refused(
      { expirationDateTime: inMinutes(61), lifecycleNotificationUrl: undefined },
      "lifecycleNotificationUrl is required for subscription creation on this resource when the expirationDateTime value exceeds 1 hour."
    )
    await refused({ encryptionCertificate: undefined }, "encryptionCertificate is required")
    await refused({ encryptionCertificateId: undefined }, "encryptionCertificateId is required")
    await refused({ encryptionCertificate: Buffer.from("not a certificate").toString("base64") }, "X.509")
    await refused({ expirationDateTime: undefined }, "expirationDateTime is a required property")
    await refused({ changeType: "created,updated" }, "ChangeType")
    await refused({ resource: "me/messages" }, "not supported")
    await refused({ notificationUrl: rx.origin.replace("https:", "http:") + "/notify" }, "HTTPS")
    await refused({ clientState: "x".repeat(129) }, "128")
    // an hour without a lifecycle URL, and the maximum with one, are fine
    const short = await subscribe({ expirationDateTime: inMinutes(59), lifecycleNotificationUrl: undefined })
    expect(short.status).toBe(201)
    const long = await subscribe({ expirationDateTime: inMinutes(4319) })
    expect(long.status).toBe(201)
    // renewal: the same bounds
    const patch = (id: string, minutes: number) =>
      graph(emu, "PATCH", `/subscriptions/${id}`, { expirationDateTime: inMinutes(minutes) })
    expect((await patch(short.body.id, 90)).status).toBe(400)
    expect((await patch(long.body.id, 5000)).status).toBe(400)
    const renewed = await patch(long.body.id, 3000)
    expect(renewed.status).toBe(200)
    const body = (await renewed.json()) as any
    expect(Date.parse(body.expirationDateTime)).toBeGreaterThan(Date.now() + 2990 * 60_000)
    await unsubscribe(short.body.id)
    await unsubscribe(long.body.id)
  })

  it("delivers an encrypted notification whose signature checks and whose data decrypts with the private key", async () => {
    const { body: sub } = await subscribe()
    const r = await addRecording(M1)
    await idle()
    const [collection] = rx.notifications("/notify")
    expect(collection.value).toHaveLength(1)
    const n = collection.value[0]
    const resource = `communications/onlineMeetings('${M1}')/recordings('${r.id}')`
    expect(n).toMatchObject({
      subscriptionId: sub.id,
      subscriptionExpirationDateTime: sub.expirationDateTime,
      changeType: "created",
      clientState: "s3cret",
      tenantId: TENANT,
      resource,
      resourceData: { id: r.id, "@odata.type": "#Microsoft.Graph.callRecording", "@odata.id": resource }
    })
    expect(n.encryptedContent.encryptionCertificateId).toBe("cert-1")
    expect(n.encryptedContent.encryptionCertificateThumbprint).toBe(cert.x509.fingerprint.replace(/:/g, ""))
    const { key, payload, signed } = decrypt(n.encryptedContent)
    expect(key).toHaveLength(32)
    expect(signed).toBe(true)
    expect(payload).toEqual({
      id: r.id,
      meetingId: M1,
      callId: "call-1",
      contentCorrelationId: r.contentCorrelationId,
      createdDateTime: r.createdDateTime,
      endDateTime: r.endDateTime,
      recordingContentUrl: `communications/onlineMeetings/${M1}/recordings/${r.id}/content`,
      meetingOrganizer: {
        application: null,
        device: null,
        user: { userIdentityType: "aadUser", id: U1, displayName: null, tenantId: TENANT }
      },
      content: null
    })
    expect(emu.counters().notifications.delivered).toBe(1)
    await unsubscribe(sub.id)
  })

  it("signs validationTokens with a key published at the token endpoint's jwks_uri, with Graph's claims", async () => {
    const { body: sub } = await subscribe()
    await addRecording(M2)
    await idle()
    const collection = rx.notifications("/notify").at(-1)
    expect(collection.validationTokens).toHaveLength(1)
    const [header, payload, signature] = collection.validationTokens[0].split(".")
    const h = JSON.parse(Buffer.from(header, "base64url").toString())
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString())
    expect(h.alg).toBe("RS256")
    const authority = emu.authority!
    const config = (await (await fetch(
      `${authority.authorityHost}/${TENANT}/v2.0/.well-known/openid-configuration`
    )).json()) as any
    const jwks = (await (await fetch(config.jwks_uri)).json()) as any
    const jwk = jwks.keys.find((k: any) => k.kid === h.kid)
    expect(jwk).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig" })
    const verified = NodeCrypto.verify(
      "sha256",
      Buffer.from(`${header}.${payload}`),
      NodeCrypto.createPublicKey({ key: jwk, format: "jwk" }),
      Buffer.from(signature, "base64url")
    )
    expect(verified).toBe(true)
    const now = Math.floor(Date.now() / 1000)
    expect(claims).toMatchObject({
      aud: "00000000-0000-0000-0000-00000000e4a1",
      iss: `https://sts.windows.net/${TENANT}/`,
      tid: TENANT,
      appid: "0bf30f3b-4a52-48df-9a82-234910c4a086",
      ver: "1.0"
    })
    expect(claims.exp).toBeGreaterThan(now)
    expect(claims.nbf).toBeLessThanOrEqual(now + 1)
    // the common endpoint publishes the same keys
    const common = (await (await fetch(`${authority.authorityHost}/common/discovery/v2.0/keys`)).json()) as any
    expect(common.keys.map((k: any) => k.kid)).toContain(h.kid)
    await unsubscribe(sub.id)
  })

  it("notifies only the subscriptions whose resource matches: tenant, organizer, meeting, ad hoc call, kind", async () => {
    const plain = { includeResourceData: false, encryptionCertificate: undefined, encryptionCertificateId: undefined }
    const subs = {
      userTranscripts: (await subscribe({
        ...plain,
        resource: `users/${U1}/onlineMeetings/getAllTranscripts`,
        notificationUrl: `${rx.origin}/u1t`
      })).body,
      upnRecordings: (await subscribe({
        ...plain,
        resource: "/users/one@contoso.example/onlineMeetings/getAllRecordings",
        notificationUrl: `${rx.origin}/upn`
      })).body,
      meeting2: (await subscribe({
        ...plain,
        resource: `communications/onlineMeetings/${M2}/recordings`,
        notificationUrl: `${rx.origin}/m2`
      })).body,
      adhoc: (await subscribe({
        ...plain,
        resource: "communications/adhocCalls/getAllTranscripts",
        notificationUrl: `${rx.origin}/adhoc`
      })).body
    }
    for (const s of Object.values(subs)) expect(s.id).toBeDefined()
    await addRecording(M1)
    await addRecording(M2)
    const t1 = transcript()
    expect((await admin(emu, "POST", "transcripts", { meetingId: M1, transcript: t1 })).status).toBe(201)
    const t2 = transcript()
    expect((await admin(emu, "POST", "transcripts", { adhocCallId: CALL, transcript: t2 })).status).toBe(201)
    await idle()
    const ids = (path: string) => rx.notifications(path).map((c) => c.value[0].resourceData.id)
    expect(ids("/u1t")).toEqual([t1.id])
    expect(ids("/upn")).toHaveLength(1)
    expect(ids("/m2")).toHaveLength(1)
    expect(ids("/adhoc")).toEqual([t2.id])
    const adhoc = rx.notifications("/adhoc")[0]
    expect(adhoc.value[0].resource).toBe(`communications/adhocCalls('${CALL}')/transcripts('${t2.id}')`)
    // without resource data: no encryptedContent, no validation tokens
    expect(adhoc.value[0].encryptedContent).toBeUndefined()
    expect(adhoc.validationTokens).toBeUndefined()
    for (const s of Object.values(subs)) await unsubscribe(s.id)
  })

  it("refuses tenant-wide subscriptions with a delegated token", async () => {
    const { status } = await subscribe({}, emu.issueToken({ subject: U1 }))
    expect(status).toBe(403)
  })

  it("sends lifecycle events on demand; subscriptionRemoved removes the subscription; reauthorize answers 204", async () => {
    const { body: sub } = await subscribe()
    expect((await graph(emu, "POST", `/subscriptions/${sub.id}/reauthorize`)).status).toBe(204)
    for (const event of ["reauthorizationRequired", "missed", "subscriptionRemoved"]) {
      expect((await admin(emu, "POST", `subscriptions/${enc(sub.id)}/lifecycle`, { lifecycleEvent: event })).status)
        .toBe(202)
    }
    await idle()
    const events = rx.notifications("/lifecycle").filter((c) => c.value[0].subscriptionId === sub.id)
    expect(events.map((c) => c.value[0].lifecycleEvent)).toEqual([
      "reauthorizationRequired",
      "missed",
      "subscriptionRemoved"
    ])
    expect(events[0].value[0]).toMatchObject({ clientState: "s3cret", tenantId: TENANT })
    expect(events[0].validationTokens).toHaveLength(1)
    expect((await graph(emu, "GET", `/subscriptions/${sub.id}`)).status).toBe(404)
    expect((await admin(emu, "POST", `subscriptions/${enc(sub.id)}/lifecycle`, { lifecycleEvent: "missed" })).status)
      .toBe(404)
    expect((await admin(emu, "POST", `subscriptions/x/lifecycle`, { lifecycleEvent: "bogus" })).status).toBe(400)
    expect(emu.counters().notifications.reauthorized).toBe(1)
  })

  it("retries a notification that got no 2xx, then drops it when the retries are used up", async () => {
    rx.on("/flaky", afterHandshake((nth) => nth < 2 ? 503 : 202))
    rx.on("/down", afterHandshake(() => 500))
    const flaky = (await subscribe({ notificationUrl: `${rx.origin}/flaky` })).body
    const down = (await subscribe({ notificationUrl: `${rx.origin}/down` })).body
    emu.resetCounters()
    const r = await addRecording(M1)
    await idle()
    // flaky: 2 failures then 202; down: 1 + 3 retries, dropped
    expect(rx.notifications("/flaky").map((c) => c.value[0].resourceData.id)).toEqual([r.id, r.id, r.id])
    expect(rx.notifications("/down")).toHaveLength(4)
    const c = emu.counters().notifications
    expect(c.delivered).toBe(1)
    expect(c.dropped).toBe(1)
    expect(c.retries).toBe(2 + 3)
    for (const s of [flaky, down]) await unsubscribe(s.id)
  })

  describe("faults", () => {
    const setFaults = async (body: unknown) =>
      expect((await admin(emu, "PUT", "notificationFaults", body)).status).toBe(201)

    it("rejects unknown faults", async () => {
      expect((await admin(emu, "PUT", "notificationFaults", { rules: [{ fault: "gone", probability: 1 }] })).status)
        .toBe(400)
      expect((await admin(emu, "PUT", "notificationFaults", "chaotic")).status).toBe(400)
    })

    /** Subscribes at `path`, injects `faults`, adds recordings a then b, waits until all is delivered. */
    const twoRecordingsWith = async (path: string, faults: unknown) => {
      const { body: sub } = await subscribe({
        notificationUrl: `${rx.origin}${path}`,
        lifecycleNotificationUrl: `${rx.origin}${path}-life`
      })
      await setFaults(faults)
      const a = await addRecording(M1)
      const b = await addRecording(M1)
      await idle()
      await setFaults("none")
      await unsubscribe(sub.id)
      const got = rx.notifications(path).map((c) => c.value[0])
      return { sub, a, b, got, ids: got.map((n) => n.resourceData.id) }
    }

    it("duplicate: the same notification twice", async () => {
      const { a, b, got, ids } = await twoRecordingsWith("/dup", {
        rules: [{ fault: "duplicate", probability: 1, limit: 1 }]
      })
      expect(ids).toEqual([a.id, a.id, b.id])
      expect(got[0].encryptedContent).toEqual(got[1].encryptedContent)
      expect(emu.counters().notifications.faults.duplicate).toBe(1)
    })

    it("outOfOrder: a notification arrives after the next one", async () => {
      const { a, b, ids } = await twoRecordingsWith("/ooo", {
        rules: [{ fault: "outOfOrder", probability: 1, limit: 1 }],
        delayMs: 60_000
      })
      expect(ids).toEqual([b.id, a.id])
    })

    it("delayed: a notification is held for delayMs, later ones overtake it", async () => {
      const { a, b, ids } = await twoRecordingsWith("/late", {
        rules: [{ fault: "delayed", probability: 1, limit: 1 }],
        delayMs: 3000
      })
      expect(ids).toEqual([b.id, a.id])
      expect(emu.counters().notifications.faults.delayed).toBe(1)
    })

    it("missed: the notification is dropped and a missed lifecycle event is sent; the artifact is listed", async () => {
      const { a, b, ids, sub } = await twoRecordingsWith("/miss", {
        rules: [{ fault: "missed", probability: 1, limit: 1 }]
      })
      expect(ids).toEqual([b.id])
      expect(rx.notifications("/miss-life").map((c) => c.value[0])).toEqual([
        expect.objectContaining({ subscriptionId: sub.id, lifecycleEvent: "missed" })
      ])
      const listed = await get(emu, `/users/${U1}/onlineMeetings/${enc(M1)}/recordings/${enc(a.id)}`)
      expect(listed.status).toBe(200)
    })
  })
})

describe("change notifications: expiry and trust", () => {
  it("sends reauthorizationRequired before a subscription expires, again after a renewal; expired ones are gone", async () => {
    const rx = await startReceiver()
    const emu = await startEmulator({
      fixture: fixture(),
      notifications: { reauthorizationLeadSeconds: 3600 }
    })
    try {
      const token = emu.issueToken()
      const create = await graph(emu, "POST", "/subscriptions", {
        changeType: "created",
        notificationUrl: `${rx.origin}/n`,
        lifecycleNotificationUrl: `${rx.origin}/l`,
        resource: "communications/onlineMeetings/getAllTranscripts",
        expirationDateTime: new Date(Date.now() + 6000).toISOString()
      }, token)
      expect(create.status).toBe(201)
      const sub = (await create.json()) as any
      // the lead is capped at half the remaining lifetime: the event comes before expiry
      const first = await rx.waitFor((r) => r.path === "/l" && !r.query.has("validationToken"))
      expect(JSON.parse(first.body).value[0]).toMatchObject({
        subscriptionId: sub.id,
        lifecycleEvent: "reauthorizationRequired"
      })
      const renewed = await graph(emu, "PATCH", `/subscriptions/${sub.id}`, {
        expirationDateTime: new Date(Date.now() + 4000).toISOString()
      }, token)
      expect(renewed.status).toBe(200)
      await rx.waitFor((r) => r.path === "/l" && !r.query.has("validationToken") && r !== first)
      expect(emu.counters().notifications.lifecycle.reauthorizationRequired).toBe(2)
      // expiry: wait on the expiry time itself, then the subscription is gone
      const expiresAt = Date.parse(((await renewed.json()) as any).expirationDateTime)
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now() + 50)))
      expect((await graph(emu, "GET", `/subscriptions/${sub.id}`, undefined, token)).status).toBe(404)
    } finally {
      await emu.close()
      await rx.close()
    }
  })

  it("reaches an HTTPS receiver signed by another CA only when that CA is trusted; times out a silent endpoint", async () => {
    const otherCa = await createTestCa()
    const rx = await startReceiver(otherCa)
    rx.on("/silent", (r) => r.query.has("validationToken") ? "hang" : [202, "", "text/plain"])
    const body = {
      changeType: "created",
      notificationUrl: `${rx.origin}/n`,
      resource: `users/${U1}/onlineMeetings/getAllRecordings`,
      expirationDateTime: inMinutes(30)
    }
    const untrusting = await startEmulator({ fixture: fixture() })
    const trusting = await startEmulator({
      fixture: fixture(),
      notifications: { ca: NodeFs.readFileSync(otherCa.caFile, "utf8"), validationTimeoutMs: 2000 }
    })
    try {
      const refused = await graph(untrusting, "POST", "/subscriptions", body)
      expect(refused.status).toBe(400)
      expect(rx.received).toHaveLength(0)
      const accepted = await graph(trusting, "POST", "/subscriptions", body)
      expect(accepted.status).toBe(201)
      const silent = await graph(trusting, "POST", "/subscriptions", {
        ...body,
        notificationUrl: `${rx.origin}/silent`
      })
      expect(silent.status).toBe(400)
      expect(((await silent.json()) as any).error.message).toBe("Subscription validation request timed out.")
    } finally {
      await untrusting.close()
      await trusting.close()
      await rx.close()
      NodeFs.rmSync(NodePath.dirname(otherCa.caFile), { recursive: true, force: true })
    }
  })
})

describe("change notifications: reauthorization", () => {
  it("pauses delivery after reauthorizationRequired and its grace, until reauthorize or renewal; keeps notificationUrl's query", async () => {
    const rx = await startReceiver()
    const emu = await startEmulator({ fixture: fixture(), notifications: { reauthorizationGraceSeconds: 0 } })
    try {
      const created = await graph(emu, "POST", "/subscriptions", {
        changeType: "created",
        notificationUrl: `${rx.origin}/n?tenant=a&x=1`,
        lifecycleNotificationUrl: `${rx.origin}/l`,
        resource: "communications/onlineMeetings/getAllRecordings",
        expirationDateTime: inMinutes(120)
      })
      expect(created.status).toBe(201)
      const sub = (await created.json()) as any
      const validation = rx.received.find((r) => r.path === "/n")!
      expect(validation.query.get("tenant")).toBe("a")
      expect(validation.query.get("validationToken")).toMatch(/^Validation: /)
      const deliveredIds = () => rx.notifications("/n").map((c) => c.value[0].resourceData.id)
      const a = recording()
      emu.addRecording(M1, a)
      emu.sendLifecycleEvent(sub.id, "reauthorizationRequired")
      const lost = recording()
      emu.addRecording(M1, lost)
      await emu.notificationsIdle()
      expect(deliveredIds()).toEqual([a.id])
      expect(rx.received.filter((r) => r.path === "/n" && !r.query.has("validationToken"))[0]!.query.get("x")).toBe("1")
      expect((await graph(emu, "POST", `/subscriptions/${sub.id}/reauthorize`)).status).toBe(204)
      const b = recording()
      emu.addRecording(M1, b)
      emu.sendLifecycleEvent(sub.id, "reauthorizationRequired")
      emu.addRecording(M1, recording())
      expect((await graph(emu, "PATCH", `/subscriptions/${sub.id}`, { expirationDateTime: inMinutes(90) })).status)
        .toBe(200)
      const c = recording()
      emu.addRecording(M1, c)
      await emu.notificationsIdle()
      expect(deliveredIds()).toEqual([a.id, b.id, c.id])
      expect(emu.counters().notifications.paused).toBe(2)
    } finally {
      await emu.close()
      await rx.close()
    }
  })
})

describe("change notifications: acknowledgement deadline", () => {
  it("retries a notification not acknowledged within ackTimeoutMs", async () => {
    const rx = await startReceiver()
    // the first notification is never answered; later ones at once
    rx.on(
      "/slow",
      afterHandshake((nth) => nth === 0 ? "hang" : 202)
    )
    const emu = await startEmulator({
      fixture: fixture(),
      notifications: { ackTimeoutMs: 1000, retryDelaysMs: [20, 20, 20, 20, 20] }
    })
    try {
      const created = await graph(emu, "POST", "/subscriptions", {
        changeType: "created",
        notificationUrl: `${rx.origin}/slow`,
        resource: "communications/onlineMeetings/getAllRecordings",
        expirationDateTime: inMinutes(30)
      })
      expect(created.status).toBe(201)
      const r = recording()
      emu.addRecording(M1, r)
      await emu.notificationsIdle()
      const posts = rx.notifications("/slow").map((c) => c.value[0].resourceData.id)
      expect(posts.length).toBeGreaterThanOrEqual(2)
      expect(new Set(posts)).toEqual(new Set([r.id]))
      const c = emu.counters().notifications
      expect(c.delivered).toBe(1)
      expect(c.retries).toBeGreaterThanOrEqual(1)
      expect(c.dropped).toBe(0)
    } finally {
      await emu.close()
      await rx.close()
    }
  })
})

describe("metadataContent", () => {
  it("is derived from the VTT when the fixture gives none: cue payloads as JSON", async () => {
    const emu = await startEmulator({ fixture: fixture() })
    try {
      const t = transcript()
      emu.addTranscript(M1, t)
      const res = await get(emu, `/users/${U1}/onlineMeetings/${enc(M1)}/transcripts/${enc(t.id)}/metadataContent`)
      expect(res.status).toBe(200)
      expect(res.headers.get("content-type")).toBe("text/vtt")
      const lines = (await res.text()).split("\n")
      expect(lines.slice(0, 4)).toEqual(["WEBVTT", "", "ab/10-0", "0:0:1.5 --> 0:0:4.250"])
      expect(JSON.parse(lines[4]!)).toEqual({
        startDateTime: "2024-05-01T10:00:03.500Z",
        endDateTime: "2024-05-01T10:00:06.250Z",
        speakerName: "Weiß, Jürgen",
        spokenText: "Hallo, zusammen.",
        spokenLanguage: "en-us"
      })
      expect(lines[6]).toBe("00:00:05.000 --> 00:00:06.000")
      expect(JSON.parse(lines[7]!)).toMatchObject({ speakerName: null, spokenText: "No voice here." })
    } finally {
      await emu.close()
    }
  })
})
