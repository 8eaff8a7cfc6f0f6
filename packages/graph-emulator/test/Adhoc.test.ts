/**
 * Ad hoc calls (`/users/{id}/adhocCalls/...`) and the "content not ready yet" 404 of a listed artifact.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { FixtureError, generatedBytes, type RunningEmulator, startEmulator, type TenantFixture } from "../src/index.js"
import { enc, get, getJson } from "./helpers.js"

const USER = "5a5a5a5a-0000-4000-8000-00000000ad0c"
const OTHER = "6b6b6b6b-0000-4000-8000-00000000ad0c"
const CALL = "c4ll/1+Zm9v=="
const CALL2 = "8f1c2d3e-0000-4000-8000-0000000000c2"
const REC = "YWRob2MvcmVjKzE="
const TR = "YWRob2MvdHIrMQ=="

const VTT = "WEBVTT\r\n\r\n00:00:01.000 --> 00:00:02.000\r\n<v Jürgen Weiß>Hallo.</v>\r\n"
const META = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n{\"speakerName\":\"Jürgen Weiß\",\"spokenText\":\"Hallo.\"}\n"

const fixture = (): TenantFixture => ({
  tenantId: "ad0c0000-0000-4000-8000-000000000001",
  users: [{ id: USER, displayName: "Caller" }, { id: OTHER, displayName: "Other" }],
  meetings: [{
    id: "bWVldGluZw==",
    organizerId: USER,
    recordings: [{ id: "meeting-rec", createdDateTime: "2024-03-01T10:00:00Z", content: { bytes: 10, seed: 1 } }]
  }],
  adhocCalls: [
    {
      id: CALL,
      userId: USER,
      startDateTime: "2024-03-02T09:00:00Z",
      endDateTime: "2024-03-02T09:30:00Z",
      recordings: [{
        id: REC,
        contentCorrelationId: "aa000000-0000-4000-8000-0000000000c1",
        createdDateTime: "2024-03-02T09:00:05.1234567Z",
        endDateTime: "2024-03-02T09:30:00.7654321Z",
        content: { bytes: 200_000, seed: 9 }
      }],
      transcripts: [{
        id: TR,
        callId: "explicit-call-id",
        contentCorrelationId: "aa000000-0000-4000-8000-0000000000c1",
        createdDateTime: "2024-03-02T09:00:06.0000000Z",
        content: { text: VTT },
        metadataContent: { text: META }
      }]
    },
    {
      id: CALL2,
      userId: USER,
      recordings: [{ id: "late-rec", createdDateTime: "2024-04-10T00:00:00Z", content: { bytes: 5, seed: 2 } }]
    },
    {
      id: "other-call",
      userId: OTHER,
      recordings: [{ id: "other-rec", createdDateTime: "2024-03-02T00:00:00Z", content: { bytes: 5, seed: 3 } }]
    }
  ]
})

describe("ad hoc calls", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({ fixture: fixture(), pageSize: 2 })
  })
  afterAll(() => emu.close())

  const call = `/users/${USER}/adhocCalls/${enc(CALL)}`

  it("lists, gets and streams a call's recordings and transcripts; payloads carry callId, no meetingId", async () => {
    const list = await getJson(emu, `${call}/recordings`)
    expect(list.status).toBe(200)
    expect(list.body["@odata.context"]).toBe(
      `${emu.origin}/v1.0/$metadata#users('${USER}')/adhocCalls('${CALL}')/recordings`
    )
    expect(list.body["@odata.count"]).toBe(1)
    const rec = list.body.value[0]
    expect(rec).toMatchObject({
      id: REC,
      callId: CALL,
      createdDateTime: "2024-03-02T09:00:05.1234567Z",
      recordingContentUrl: `${emu.origin}/v1.0/users/${USER}/adhocCalls/${CALL}/recordings/${REC}/content`
    })
    expect(rec).not.toHaveProperty("meetingId")
    expect(rec.meetingOrganizer.user.id).toBe(USER)

    // the keyed form and $filter on contentCorrelationId work as for meetings
    const keyed = await getJson(
      emu,
      `/users/${USER}/adhocCalls('${
        enc(CALL)
      }')/transcripts?$filter=contentCorrelationId eq 'aa000000-0000-4000-8000-0000000000c1'`
    )
    expect(keyed.body.value.map((t: { id: string }) => t.id)).toEqual([TR])
    expect(keyed.body.value[0].callId).toBe("explicit-call-id")

    const one = await getJson(emu, `${call}/recordings/${enc(REC)}`)
    expect(one.body.id).toBe(REC)
    expect(one.body["@odata.context"]).toContain(`adhocCalls('${CALL}')/recordings/$entity`)

    const content = await get(emu, `${call}/recordings/${enc(REC)}/content`)
    expect(content.status).toBe(200)
    expect(content.headers.get("content-length")).toBe("200000")
    expect(Buffer.from(await content.arrayBuffer()).equals(Buffer.from(generatedBytes(9, 200_000)))).toBe(true)

    // transcript content follows Graph's $format rules here too
    expect((await get(emu, `${call}/transcripts/${enc(TR)}/content`)).status).toBe(400)
    const vtt = await get(emu, `${call}/transcripts/${enc(TR)}/content?$format=text/vtt`)
    expect(vtt.headers.get("content-type")).toBe("text/vtt")
    expect(await vtt.text()).toBe(VTT)
    expect(await (await get(emu, `${call}/transcripts/${enc(TR)}/metadataContent`)).text()).toBe(META)

    const c = emu.counters()
    expect(c.byRoute).toMatchObject({
      adhocRecordings: 1,
      adhocTranscripts: 1,
      adhocRecording: 1,
      adhocRecordingContent: 1,
      adhocTranscriptContent: 2,
      adhocTranscriptMetadataContent: 1
    })
    expect(c.contentRequests[REC]).toBe(1)
    expect(c.contentRequests[`${TR}#metadataContent`]).toBe(1)
  })

  it("getAllRecordings(userId=...) lists the user's ad hoc artifacts in the window, never meeting ones", async () => {
    const all = await getJson(emu, `/users/${USER}/adhocCalls/getAllRecordings(userId='${USER}')?$top=10`)
    expect(all.status).toBe(200)
    expect(all.body.value.map((r: { id: string }) => r.id).sort()).toEqual(["late-rec", REC].sort())
    const windowed = await getJson(
      emu,
      `/users/${USER}/adhocCalls/getAllRecordings(userId='${USER}',startDateTime=2024-03-01T00:00:00Z,endDateTime=2024-04-01T00:00:00Z)`
    )
    expect(windowed.body.value.map((r: { id: string }) => r.id)).toEqual([REC])
    const transcripts = await getJson(
      emu,
      enc(`/users/${USER}/adhocCalls/getAllTranscripts(userId='${USER}')`).replace(/%2F/g, "/")
    )
    expect(transcripts.body.value.map((t: { id: string }) => t.id)).toEqual([TR])
    // the scheduled-meeting function does not see ad hoc artifacts
    const meetings = await getJson(
      emu,
      `/users/${USER}/onlineMeetings/getAllRecordings(meetingOrganizerUserId='${USER}')`
    )
    expect(meetings.body.value.map((r: { id: string }) => r.id)).toEqual(["meeting-rec"])
    // the user argument is required (and the meeting one is not accepted instead)
    const missing = await getJson(emu, `/users/${USER}/adhocCalls/getAllRecordings(meetingOrganizerUserId='${USER}')`)
    expect(missing.status).toBe(400)
    expect(missing.body.error.message).toMatch(/userId/)
  })

  it("delta: pages, a deltaLink, and a replay returning only artifacts added since", async () => {
    const first =
      `/users/${USER}/adhocCalls/getAllRecordings(userId='${USER}',startDateTime=2024-01-01T00:00:00Z)/delta`
    let page = await getJson(emu, first)
    const seen: Array<string> = []
    while (page.body["@odata.nextLink"] !== undefined) {
      seen.push(...page.body.value.map((r: { id: string }) => r.id))
      page = await getJson(emu, page.body["@odata.nextLink"])
    }
    seen.push(...page.body.value.map((r: { id: string }) => r.id))
    expect(seen.sort()).toEqual(["late-rec", REC].sort())
    const deltaLink = page.body["@odata.deltaLink"] as string
    expect(deltaLink).toContain("$deltatoken=")
    emu.addAdhocRecording(CALL2, {
      id: "new-rec",
      createdDateTime: "2024-04-11T00:00:00Z",
      content: { bytes: 3, seed: 4 }
    })
    const replay = await getJson(emu, deltaLink)
    expect(replay.body.value.map((r: { id: string }) => r.id)).toEqual(["new-rec"])
    expect(emu.counters().byRoute.getAllAdhocRecordingsDelta).toBe(2)
  })

  it("answers 404 for another user's call, unknown calls and artifacts; 400 for the call itself", async () => {
    expect((await get(emu, `/users/${USER}/adhocCalls/other-call/recordings`)).status).toBe(404)
    expect((await get(emu, `/users/${USER}/adhocCalls/nope/recordings`)).status).toBe(404)
    expect((await get(emu, `${call}/recordings/nope/content`)).status).toBe(404)
    expect((await get(emu, `/users/${OTHER}/adhocCalls/other-call/recordings`)).status).toBe(200)
    expect((await get(emu, call)).status).toBe(400)
    expect((await get(emu, `/users/${USER}/adhocCalls`)).status).toBe(400)
  })

  it("adds calls and artifacts at runtime (library and admin route); validates fixtures", async () => {
    emu.addAdhocCall({ id: "runtime-call", userId: USER })
    const res = await fetch(`${emu.origin}/_emulator/transcripts`, {
      method: "POST",
      body: JSON.stringify({
        adhocCallId: "runtime-call",
        transcript: { id: "runtime-tr", createdDateTime: "2024-05-01T00:00:00Z", content: { text: "WEBVTT\n\n" } }
      })
    })
    expect(res.status).toBe(201)
    const bad = await fetch(`${emu.origin}/_emulator/recordings`, {
      method: "POST",
      body: JSON.stringify({
        adhocCallId: "no-such-call",
        recording: { id: "x", createdDateTime: "2024-05-01T00:00:00Z", content: { bytes: 1 } }
      })
    })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/no ad hoc call/)
    const listed = await getJson(emu, `/users/${USER}/adhocCalls/runtime-call/transcripts`)
    expect(listed.body.value.map((t: { id: string }) => t.id)).toEqual(["runtime-tr"])
    expect(() => emu.addAdhocCall({ id: "runtime-call", userId: USER })).toThrow(/already exists/)

    const cases: Array<[TenantFixture, RegExp]> = [
      [{ ...fixture(), adhocCalls: [{ id: "x", userId: "nobody" }] }, /userId "nobody" is not in users/],
      [
        { ...fixture(), adhocCalls: [{ id: "x", userId: USER }, { id: "x", userId: USER }] },
        /duplicate ad hoc call id/
      ],
      [
        {
          ...fixture(),
          adhocCalls: [{
            id: "x",
            userId: USER,
            recordings: [{ id: "meeting-rec", createdDateTime: "2024-01-01T00:00:00Z", content: { bytes: 1 } }]
          }]
        },
        /duplicate artifact id "meeting-rec"/
      ]
    ]
    for (const [f, message] of cases) {
      const error = await startEmulator({ fixture: f }).then(() => undefined, (e) => e)
      expect(error).toBeInstanceOf(FixtureError)
      expect(error.message).toMatch(message)
    }
  })
})

describe("content not ready yet", () => {
  const NOT_READY = (until: string): TenantFixture => ({
    tenantId: "ad0c0000-0000-4000-8000-000000000002",
    users: [{ id: USER }],
    meetings: [{
      id: "m",
      organizerId: USER,
      recordings: [
        {
          id: "r-count",
          createdDateTime: "2024-03-01T10:00:00Z",
          content: { bytes: 64, seed: 5 },
          notReady: { requests: 2 }
        },
        { id: "r-until", createdDateTime: "2024-03-01T10:00:00Z", content: { bytes: 64, seed: 6 }, notReady: { until } }
      ],
      transcripts: [{
        id: "t-count",
        createdDateTime: "2024-03-01T10:00:00Z",
        content: { text: "WEBVTT\n\n" },
        metadataContent: { text: "WEBVTT\n\n" },
        notReady: { requests: 1 }
      }]
    }],
    adhocCalls: [{
      id: "call",
      userId: USER,
      recordings: [{
        id: "a-count",
        createdDateTime: "2024-03-01T10:00:00Z",
        content: { bytes: 8, seed: 7 },
        notReady: { requests: 1 }
      }]
    }]
  })

  it("answers 404 NotFound for the first N content requests or until a time, while the artifact is listed", async () => {
    const emu = await startEmulator({ fixture: NOT_READY(new Date(Date.now() + 3_600_000).toISOString()) })
    try {
      const m = `/users/${USER}/onlineMeetings/m`
      const listed = await getJson(emu, `${m}/recordings`)
      expect(listed.body.value.map((r: { id: string }) => r.id)).toEqual(["r-count", "r-until"])
      // metadata is served at once; only the content is not ready
      expect((await get(emu, `${m}/recordings/r-count`)).status).toBe(200)
      for (let i = 0; i < 2; i++) {
        const res = await getJson(emu, `${m}/recordings/r-count/content`)
        expect(res.status).toBe(404)
        expect(res.body.error.code).toBe("NotFound")
        expect(res.body.error.message).toMatch(/not available yet/)
      }
      expect((await get(emu, `${m}/recordings/r-count/content`)).status).toBe(200)
      expect((await get(emu, `${m}/recordings/r-until/content`)).status).toBe(404)
      expect((await get(emu, `${m}/recordings/r-until/content`)).status).toBe(404)
      // both content routes of a transcript count towards its N
      expect((await get(emu, `${m}/transcripts/t-count/metadataContent`)).status).toBe(404)
      expect((await get(emu, `${m}/transcripts/t-count/content?$format=text/vtt`)).status).toBe(200)
      expect((await get(emu, `/users/${USER}/adhocCalls/call/recordings/a-count/content`)).status).toBe(404)
      expect((await get(emu, `/users/${USER}/adhocCalls/call/recordings/a-count/content`)).status).toBe(200)
      const c = emu.counters()
      expect(c.notReady).toBe(6)
      expect(c.contentRequests["r-count"]).toBe(1)
      expect(c.contentRequests["r-until"]).toBeUndefined()
    } finally {
      await emu.close()
    }
    // once `until` has passed, the content is served
    const later = await startEmulator({ fixture: NOT_READY("2020-01-01T00:00:00Z") })
    try {
      expect((await get(later, `/users/${USER}/onlineMeetings/m/recordings/r-until/content`)).status).toBe(200)
    } finally {
      await later.close()
    }
    const invalid = await startEmulator({ fixture: NOT_READY("soon") }).then(() => undefined, (e) => e)
    expect(invalid).toBeInstanceOf(FixtureError)
    expect(invalid.message).toMatch(/notReady.until is not a timestamp/)
  })
})
