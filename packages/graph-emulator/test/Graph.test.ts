import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { generatedBytes, type RunningEmulator, startEmulator } from "../src/index.js"
import {
  docTenant,
  enc,
  fixturesDir,
  get,
  getJson,
  MEETING1,
  MEETING3,
  ORGANIZER1,
  ORGANIZER3,
  TRANSCRIPT3
} from "./helpers.js"

const docJson = (name: string) => JSON.parse(NodeFs.readFileSync(NodePath.join(fixturesDir, name), "utf8"))
const asGraph = (emu: RunningEmulator, body: unknown) =>
  JSON.parse(JSON.stringify(body).split(emu.origin).join("https://graph.microsoft.com"))

describe("doc payloads", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({ fixture: docTenant })
  })
  afterAll(() => emu.close())

  it("reproduces Get callRecording example 1 (beta) exactly", async () => {
    const token = emu.issueToken({ subject: ORGANIZER1 })
    const { body, status } = await getJson(
      emu,
      `${emu.betaBaseUrl}/users/${ORGANIZER1}/onlineMeetings/${MEETING1}/recordings/7e31db25-bc6e-4fd8-96c7-e01264e9b6fc`,
      { token }
    )
    expect(status).toBe(200)
    expect(asGraph(emu, body)).toEqual(docJson("doc-example-1-get-callRecording.json"))
  })

  it("reproduces list recordings with $filter on contentCorrelationId (example 3) exactly, property name case-insensitive", async () => {
    for (const prop of ["contentcorrelationId", "contentCorrelationId", "CONTENTCORRELATIONID"]) {
      const { body, status } = await getJson(
        emu,
        `${emu.betaBaseUrl}/users/${ORGANIZER3}/onlineMeetings/${MEETING3}/recordings?$filter=${prop} eq 'e87c8cf8-50f7-4252-8b9c-ad08ac0fa88d-0'`
      )
      expect(status).toBe(200)
      expect(asGraph(emu, body)).toEqual(docJson("doc-example-3-list-recordings-filter-contentCorrelationId.json"))
    }
    const none = await getJson(
      emu,
      `/users/${ORGANIZER3}/onlineMeetings/${MEETING3}/recordings?$filter=contentCorrelationId eq 'nope'`
    )
    expect(none.body.value).toEqual([])
    expect(none.body["@odata.count"]).toBe(0)
  })

  it("serves timestamps exactly as written and ids with / + = percent-encoded in paths", async () => {
    const { body, status } = await getJson(
      emu,
      `/users/${ORGANIZER3}/onlineMeetings/${enc(MEETING3)}/transcripts/${enc(TRANSCRIPT3)}`
    )
    expect(status).toBe(200)
    expect(body.id).toBe(TRANSCRIPT3)
    expect(body.createdDateTime).toBe("2024-07-12T11:38:20.4413199Z")
    expect(body.transcriptContentUrl).toContain("/transcripts/")
    expect(body.meetingOrganizer.user["@odata.type"]).toBe("#microsoft.graph.teamworkUserIdentity")
    // a raw `/` inside the id splits the path: not found, as in Graph
    const raw = await get(emu, `/users/${ORGANIZER3}/onlineMeetings/${MEETING3}/transcripts/${TRANSCRIPT3}`)
    expect(raw.status).toBe(400)
  })

  it("sets request-id on every response and echoes client-request-id", async () => {
    const res = await get(emu, `/users/${ORGANIZER3}/onlineMeetings/${MEETING3}`, {
      headers: { "client-request-id": "abc-123" }
    })
    expect(res.status).toBe(200)
    expect(res.headers.get("client-request-id")).toBe("abc-123")
    expect(res.headers.get("request-id")).toMatch(/^[0-9a-f-]{36}$/)
    const err = await get(emu, `/users/${ORGANIZER3}/onlineMeetings/nope`, {
      headers: { "client-request-id": "def-456" }
    })
    expect(err.status).toBe(404)
    const body = (await err.json()) as any
    expect(body.error.code).toBe("NotFound")
    expect(body.error.innerError["client-request-id"]).toBe("def-456")
    expect(body.error.innerError["request-id"]).toBe(err.headers.get("request-id"))
  })

  it("finds a meeting by JoinWebUrl (collection) and by id; /me resolves to the token's subject", async () => {
    const joinUrl = emu.fixture.meetings[0]!.joinWebUrl!
    const byUrl = await getJson(emu, `/me/onlineMeetings?$filter=${enc(`JoinWebUrl eq '${joinUrl}'`)}`, {
      token: emu.issueToken({ subject: ORGANIZER3 })
    })
    expect(byUrl.status).toBe(200)
    expect(byUrl.body.value.map((m: any) => m.id)).toEqual([MEETING3])
    expect(byUrl.body["@odata.context"]).toContain(`users('${ORGANIZER3}')/onlineMeetings`)
    const byId = await getJson(emu, `/users/${ORGANIZER3}/onlineMeetings/${MEETING3}`)
    expect(byId.body.joinWebUrl).toBe(joinUrl)
    expect(byId.body.chatInfo.threadId).toMatch(/^19:meeting_.*@thread\.v2$/)
    const appOnly = await getJson(emu, `/me/onlineMeetings/${MEETING3}`, { token: emu.issueToken() })
    expect(appOnly.status).toBe(400)
  })

  it("applies the transcript $format / Accept rules of real Graph", async () => {
    const path = `/users/${ORGANIZER3}/onlineMeetings/${MEETING3}/transcripts/${enc(TRANSCRIPT3)}/content`
    const none = await get(emu, path)
    expect(none.status).toBe(400)
    expect(((await none.json()) as any).error.message).toBe("Invalid format '*/*'")
    const viaAccept = await get(emu, path, { headers: { accept: "text/vtt" } })
    expect(viaAccept.status).toBe(200)
    expect(viaAccept.headers.get("content-type")).toBe("text/vtt")
    const expected = NodeFs.readFileSync(NodePath.join(fixturesDir, "doc-transcript.vtt"))
    expect(Buffer.from(await viaAccept.arrayBuffer())).toEqual(expected)
    // $format wins over Accept
    const formatWins = await get(emu, `${path}?$format=text/vtt`, { headers: { accept: "application/json" } })
    expect(formatWins.status).toBe(200)
    const badFormat = await get(emu, `${path}?$format=application/pdf`, { headers: { accept: "text/vtt" } })
    expect(badFormat.status).toBe(400)
    expect(((await badFormat.json()) as any).error.message).toBe("Invalid format 'application/pdf'")
    const meta = await get(
      emu,
      `/users/${ORGANIZER3}/onlineMeetings/${MEETING3}/transcripts/${enc(TRANSCRIPT3)}/metadataContent`
    )
    expect(meta.status).toBe(200)
    expect(await meta.text()).toContain("\"speakerName\":\"Okonkwo, Adaeze\"")
  })

  it("streams recording content byte-exact with Content-Length and honours Range with 206", async () => {
    const rec = `/users/${ORGANIZER3}/onlineMeetings/${MEETING3}/recordings/${
      enc(emu.fixture.meetings[0]!.recordings![0]!.id)
    }/content`
    const full = await get(emu, rec)
    expect(full.status).toBe(200)
    expect(full.headers.get("content-type")).toBe("video/mp4")
    expect(full.headers.get("content-length")).toBe("4096")
    const bytes = new Uint8Array(await full.arrayBuffer())
    expect(bytes).toEqual(generatedBytes(3, 4096))
    const part = await get(emu, rec, { headers: { range: "bytes=100-199" } })
    expect(part.status).toBe(206)
    expect(part.headers.get("content-range")).toBe("bytes 100-199/4096")
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes.subarray(100, 200))
    const bad = await get(emu, rec, { headers: { range: "bytes=5000-" } })
    expect(bad.status).toBe(416)
    const c = emu.counters()
    expect(c.contentRequests[emu.fixture.meetings[0]!.recordings![0]!.id]).toBe(2)
  })

  it("answers unknown $select properties and bad $top with 400, and applies $select", async () => {
    const sel = await getJson(
      emu,
      `/users/${ORGANIZER3}/onlineMeetings/${MEETING3}/recordings?$select=callId,contentCorrelationId`
    )
    expect(sel.status).toBe(200)
    expect(Object.keys(sel.body.value[0]).sort()).toEqual(["callId", "contentCorrelationId", "id"])
    expect(sel.body["@microsoft.graph.tips"]).toBeUndefined()
    expect((await get(emu, `/users/${ORGANIZER3}/onlineMeetings/${MEETING3}/recordings?$select=nope`)).status).toBe(400)
    expect((await get(emu, `/users/${ORGANIZER3}/onlineMeetings/${MEETING3}/recordings?$top=-1`)).status).toBe(400)
  })
})

describe("auth", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({ fixture: docTenant })
  })
  afterAll(() => emu.close())

  it("rejects missing, wrong, expired and foreign tokens with 401 InvalidAuthenticationToken", async () => {
    const other = await startEmulator({ generate: { organizers: 1, meetingsPerOrganizer: 1 } })
    try {
      const path = `/users/${ORGANIZER3}/onlineMeetings/${MEETING3}`
      for (
        const token of [null, "garbage", emu.issueToken({ ttlSeconds: -5 }), other.accessToken, `${emu.accessToken}x`]
      ) {
        const res = await get(emu, path, { token })
        expect(res.status).toBe(401)
        expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /)
        expect(((await res.json()) as any).error.code).toBe("InvalidAuthenticationToken")
      }
      const expired = await getJson(emu, path, { token: emu.issueToken({ ttlSeconds: -5 }) })
      expect(expired.body.error.message).toContain("expired")
      expect((await get(emu, path)).status).toBe(200)
      expect(emu.counters().byStatus["401"]).toBe(6)
    } finally {
      await other.close()
    }
  })
})

describe("organizer-wide listing and paging", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({ generate: { organizers: 2, meetingsPerOrganizer: 12, seed: 7 }, pageSize: 3 })
  })
  afterAll(() => emu.close())

  const organizer = () => emu.fixture.users[0]!.id
  const expectedIds = (kind: "recordings" | "transcripts", org: string) =>
    emu.fixture.meetings.filter((m) => m.organizerId === org).flatMap((m) =>
      (kind === "recordings" ? m.recordings ?? [] : m.transcripts ?? []).map((a) => a.id)
    )

  const walk = async (url: string) => {
    const ids: Array<string> = []
    let next: string | undefined = url
    let pages = 0
    let last: any
    while (next) {
      const r = await getJson(emu, next)
      expect(r.status).toBe(200)
      last = r.body
      ids.push(...r.body.value.map((x: any) => x.id))
      next = r.body["@odata.nextLink"]
      pages++
    }
    return { ids, pages, last }
  }

  it("pages getAllRecordings / getAllTranscripts with opaque skip tokens, raw or percent-encoded", async () => {
    const org = organizer()
    const call =
      `getAllRecordings(meetingOrganizerUserId='${org}',startDateTime=2024-01-01T00:00:00Z,endDateTime=2024-12-31T00:00:00Z)`
    const raw = await walk(`/users/${org}/onlineMeetings/${call}`)
    expect(raw.ids).toEqual(expectedIds("recordings", org))
    expect(raw.pages).toBeGreaterThan(2)
    const encoded = await walk(`/users/${org}/onlineMeetings/${enc(call)}`)
    expect(encoded.ids).toEqual(raw.ids)
    const tr = await walk(`/users/${org}/onlineMeetings/${call.replace("getAllRecordings", "getAllTranscripts")}`)
    expect(tr.ids).toEqual(expectedIds("transcripts", org))
    // the window excludes everything
    const empty = await walk(
      `/users/${org}/onlineMeetings/getAllRecordings(meetingOrganizerUserId='${org}',startDateTime=2020-01-01T00:00:00Z,endDateTime=2020-02-01T00:00:00Z)`
    )
    expect(empty.ids).toEqual([])
  })

  it("rejects getAllRecordings without an organizer, with SDK alias parameters, and tampered skip tokens", async () => {
    const org = organizer()
    expect((await get(emu, `/users/${org}/onlineMeetings/getAllRecordings(startDateTime=2024-01-01T00:00:00Z)`)).status)
      .toBe(400)
    expect(
      (await get(
        emu,
        `/users/${org}/onlineMeetings/getAllRecordings(meetingOrganizerUserId=@meetingOrganizerUserId)?@meetingOrganizerUserId='${org}'`
      )).status
    ).toBe(400)
    const first = await getJson(emu, `/users/${org}/onlineMeetings/getAllRecordings(meetingOrganizerUserId='${org}')`)
    const next = new URL(first.body["@odata.nextLink"])
    const token = next.searchParams.get("$skiptoken")!
    next.searchParams.set("$skiptoken", token.slice(0, -2) + (token.endsWith("AA") ? "BB" : "AA"))
    expect((await get(emu, next.toString())).status).toBe(400)
  })

  it("honours $top as page size on lists", async () => {
    const org = organizer()
    const r = await getJson(
      emu,
      `/users/${org}/onlineMeetings/getAllRecordings(meetingOrganizerUserId='${org}')?$top=5`
    )
    expect(r.body.value.length).toBe(5)
    expect(r.body["@odata.nextLink"]).toContain("$top=5")
  })

  it("delta: nextLink pages then a deltaLink; replaying it returns only artifacts added since", async () => {
    const org = organizer()
    const url =
      `/users/${org}/onlineMeetings/getAllRecordings(meetingOrganizerUserId='${org}',startDateTime=2024-01-01T00:00:00Z)/delta`
    const first = await walk(url)
    expect(first.ids).toEqual(expectedIds("recordings", org))
    const deltaLink = first.last["@odata.deltaLink"] as string
    expect(deltaLink).toContain("$deltatoken=")
    const quiet = await walk(deltaLink)
    expect(quiet.ids).toEqual([])
    const meeting = emu.fixture.meetings.find((m) => m.organizerId === org)!
    emu.addRecording(meeting.id, {
      id: "added/by+library==",
      callId: "c",
      contentCorrelationId: "x",
      createdDateTime: "2024-02-01T10:00:00.1234567Z",
      endDateTime: "2024-02-01T11:00:00.1234567Z",
      content: { bytes: 10, seed: 1 }
    })
    const admin = await fetch(`${emu.origin}/_emulator/recordings`, {
      method: "POST",
      body: JSON.stringify({
        meetingId: meeting.id,
        recording: { id: "added/by+admin==", createdDateTime: "2024-02-02T10:00:00Z", content: { bytes: 5 } }
      })
    })
    expect(admin.status).toBe(201)
    const afterAdd = await walk(deltaLink)
    expect(afterAdd.ids).toEqual(["added/by+library==", "added/by+admin=="])
    expect(afterAdd.last["@odata.deltaLink"]).not.toBe(deltaLink)
    const again = await walk(afterAdd.last["@odata.deltaLink"])
    expect(again.ids).toEqual([])
    const dup = await fetch(`${emu.origin}/_emulator/recordings`, {
      method: "POST",
      body: JSON.stringify({
        meetingId: meeting.id,
        recording: { id: "added/by+admin==", createdDateTime: "2024-02-02T10:00:00Z", content: { bytes: 5 } }
      })
    })
    expect(dup.status).toBe(400)
  })
})
