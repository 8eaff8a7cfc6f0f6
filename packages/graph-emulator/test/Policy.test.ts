import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningEmulator, startEmulator } from "../src/index.js"
import { enc, getJson } from "./helpers.js"

describe("tenant policy", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({
      fixture: {
        tenantId: "t",
        users: [{ id: "u1" }, { id: "u2" }],
        meetings: [{
          id: "m1",
          organizerId: "u1",
          recordings: [{
            id: "r1",
            createdDateTime: "2024-01-01T10:00:00.0000000Z",
            endDateTime: "2024-01-01T10:45:59.9000000Z",
            content: { bytes: 10 }
          }],
          transcripts: [{
            id: "t1",
            createdDateTime: "2024-01-01T10:00:00Z",
            endDateTime: "2024-01-01T10:30:00Z",
            content: { text: "WEBVTT\n\n" }
          }]
        }]
      }
    })
  })
  afterAll(() => emu.close())

  it("403 without an application access policy, for app-only tokens only", async () => {
    emu.setPolicy({ noAccessPolicy: ["u1"] })
    const app = emu.issueToken()
    const denied = await getJson(emu, `/users/u1/onlineMeetings/m1/recordings`, { token: app })
    expect(denied.status).toBe(403)
    expect(denied.body.error.code).toBe("Forbidden")
    expect(denied.body.error.message).toBe("No application access policy found for this app.")
    // another user, and delegated tokens, are fine
    expect((await getJson(emu, `/users/u2`, { token: app })).status).toBe(200)
    expect((await getJson(emu, `/users/u1/onlineMeetings/m1/recordings`)).status).toBe(200)
    emu.setPolicy({})
    expect((await getJson(emu, `/users/u1/onlineMeetings/m1/recordings`, { token: app })).status).toBe(200)
  })

  it("403 GraphAccessToTranscriptsDisabled on every transcript route, recordings unaffected", async () => {
    const put = await fetch(`${emu.origin}/_emulator/policy`, {
      method: "PUT",
      body: JSON.stringify({ transcriptsDisabled: true })
    })
    expect(put.status).toBe(201)
    for (
      const path of [
        `/users/u1/onlineMeetings/m1/transcripts`,
        `/users/u1/onlineMeetings/m1/transcripts/t1/content?$format=text/vtt`,
        `/users/u1/onlineMeetings/getAllTranscripts(meetingOrganizerUserId='u1')`
      ]
    ) {
      const r = await getJson(emu, path)
      expect(r.status).toBe(403)
      expect(r.body.error.innerError.code).toBe("GraphAccessToTranscriptsDisabled")
    }
    expect((await getJson(emu, `/users/u1/onlineMeetings/m1/recordings`)).status).toBe(200)
    emu.setPolicy({})
  })

  it("bills whole minutes per content download and answers 402 past the metered quota", async () => {
    emu.resetCounters()
    emu.setPolicy({ meteredQuotaMinutes: 100 })
    const rec = `/users/u1/onlineMeetings/m1/recordings/${enc("r1")}/content`
    expect((await fetch(`${emu.baseUrl}${rec}`, { headers: { authorization: `Bearer ${emu.accessToken}` } })).status)
      .toBe(200)
    expect(emu.counters().meteredMinutes).toBe(45)
    expect((await fetch(`${emu.baseUrl}${rec}`, { headers: { authorization: `Bearer ${emu.accessToken}` } })).status)
      .toBe(200)
    expect(emu.counters().meteredMinutes).toBe(90)
    const over = await getJson(emu, rec)
    expect(over.status).toBe(402)
    expect(over.body.error.code).toBe("PaymentRequired")
    // metadata listing is not metered
    expect((await getJson(emu, `/users/u1/onlineMeetings/m1/recordings`)).status).toBe(200)
    expect(emu.counters().meteredMinutes).toBe(90)
    emu.setPolicy({})
  })
})
