import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Url from "../src/GraphUrl.js"

const base = "https://graph.microsoft.com/v1.0"
const idArb = fc.oneof(
  fc.string({ minLength: 1 }),
  fc.base64String({ minLength: 4 }),
  fc.string({ minLength: 1, unit: "grapheme" })
)
  .filter((s) => s !== "." && s !== "..")

describe("GraphUrl", () => {
  it("encodes opaque ids with / + = in every path segment", () => {
    const r = Url.artifact(base, { userId: "u/1" }, "MSo+bT0=", "recordings", "a/b+c=", "/content")
    expect(r.url).toBe(`${base}/users/u%2F1/onlineMeetings/MSo%2BbT0%3D/recordings/a%2Fb%2Bc%3D/content`)
    expect(r.route).toBe("/users/{userId}/onlineMeetings/{meetingId}/recordings/{recordingId}/content")
  })

  it("round-trips any id through the path (property)", () => {
    fc.assert(
      fc.property(idArb, idArb, (meetingId, id) => {
        const r = Url.artifact(base, "me", meetingId, "transcripts", id)
        const path = new URL(r.url).pathname.split("/")
        expect(decodeURIComponent(path[path.length - 3]!)).toBe(meetingId)
        expect(decodeURIComponent(path[path.length - 1]!)).toBe(id)
        expect(path.length).toBe(7) // "", v1.0, me, onlineMeetings, {m}, transcripts, {id}
      })
    )
  })

  it("builds getAllRecordings inline: quoted organizer, unquoted dates, never parameter aliases", () => {
    const r = Url.getAllArtifacts(base, "recordings", {
      organizerId: "6f1b0c7e-0000-4000-8000-000000000001",
      startDateTime: "2024-01-15T00:00:00Z",
      endDateTime: new Date("2024-01-31T00:00:00Z")
    })
    expect(r.url).toBe(
      `${base}/users/6f1b0c7e-0000-4000-8000-000000000001/onlineMeetings/getAllRecordings(meetingOrganizerUserId='6f1b0c7e-0000-4000-8000-000000000001',startDateTime=2024-01-15T00:00:00Z,endDateTime=2024-01-31T00:00:00.000Z)`
    )
    expect(r.url).not.toContain("@")
    expect(r.route).toBe("/users/{userId}/onlineMeetings/getAllRecordings(...)")
    const d = Url.getAllArtifacts(base, "transcripts", {
      organizerId: "o",
      startDateTime: "2024-01-15T00:00:00.1234567Z",
      userId: "admin"
    }, true)
    expect(d.url).toBe(
      `${base}/users/admin/onlineMeetings/getAllTranscripts(meetingOrganizerUserId='o',startDateTime=2024-01-15T00:00:00.1234567Z)/delta`
    )
  })

  it("escapes quotes in OData literals and keeps the function call one path segment", () => {
    const r = Url.getAllArtifacts(base, "recordings", { organizerId: "o'x/y", startDateTime: "2024-01-15T00:00:00Z" })
    expect(r.url).toContain("meetingOrganizerUserId='o''x%2Fy'")
    expect(new URL(r.url).pathname.split("/")).toHaveLength(6)
  })

  it("normalises offsets to UTC and rejects non-ISO dates with a clear error", () => {
    expect(Url.dateTimeLiteral("2024-01-15T01:00:00+01:00", "startDateTime")).toBe("2024-01-15T00:00:00.000Z")
    expect(() => Url.dateTimeLiteral("15/01/2024", "startDateTime")).toThrow(/startDateTime must be an ISO 8601/)
    expect(() => Url.dateTimeLiteral("2024-01-15T00:00:00", "endDateTime")).toThrow(/time zone/)
    expect(() => Url.dateTimeLiteral(new Date(Number.NaN), "endDateTime")).toThrow(/invalid Date/)
  })

  it("filters by contentCorrelationId and join URL with encoded, quote-escaped literals", () => {
    const r = Url.listArtifacts(base, "me", "m", "recordings", { contentCorrelationId: "e87c-0", top: 5 })
    expect(r.url).toBe(`${base}/me/onlineMeetings/m/recordings?$filter=contentCorrelationId%20eq%20'e87c-0'&$top=5`)
    const join = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_X%40thread.v2/0?context=%7b%22Tid%22%7d&x=a'b"
    const j = Url.meetingByJoinUrl(base, { userId: "u" }, join)
    const filter = new URL(j.url).searchParams.get("$filter")
    expect(filter).toBe(`JoinWebUrl eq '${join.replace("'", "''")}'`)
  })

  it("asks for VTT with $format", () => {
    expect(Url.transcriptContent(base, "me", "m", "t").url).toBe(
      `${base}/me/onlineMeetings/m/transcripts/t/content?$format=text%2Fvtt`
    )
  })

  it("rejects empty ids and bad base URLs", () => {
    expect(() => Url.artifact(base, "me", "", "recordings", "x")).toThrow(/meetingId/)
    // dot segments would be removed by URL parsing (path traversal), even as %2e
    expect(() => Url.artifact(base, "me", "..", "recordings", "x")).toThrow(/cannot be "." or ".."/)
    expect(() => Url.artifact(base, "me", "m", "recordings", ".")).toThrow(/recordingId/)
    expect(() => Url.artifact(base, { userId: "" }, "m", "recordings", "x")).toThrow(/userId/)
    expect(() => Url.normalizeBaseUrl("graph.microsoft.com")).toThrow(/absolute/)
    expect(() => Url.normalizeBaseUrl("ftp://x/v1.0")).toThrow(/http/)
    expect(Url.normalizeBaseUrl("https://graph.microsoft.us/beta/")).toBe("https://graph.microsoft.us/beta")
  })

  it("plain http only to loopback unless allowInsecureHttp; never a password, never echoed", () => {
    for (
      const loopback of [
        "http://127.0.0.1:1234/v1.0",
        "http://127.5.6.7/v1.0",
        "http://localhost:8080/v1.0",
        "http://[::1]:9/v1.0",
        "http://graph.localhost/v1.0"
      ]
    ) {
      expect(Url.normalizeBaseUrl(loopback)).toBe(loopback)
    }
    for (
      const remote of [
        "http://graph.microsoft.com/v1.0",
        "http://10.0.0.5/v1.0",
        "http://127.0.0.1.example.com/v1.0",
        "http://[::2]/v1.0"
      ]
    ) {
      expect(() => Url.normalizeBaseUrl(remote)).toThrow(/unencrypted.*allowInsecureHttp/)
      expect(Url.normalizeBaseUrl(remote, { allowInsecureHttp: true })).toBe(remote)
    }
    for (
      const withPassword of [
        "http://alice:pw0rd@127.0.0.1/v1.0#x",
        "https://alice:pw0rd@graph.microsoft.com/v1.0",
        "ftp://alice:pw0rd@x/v1.0"
      ]
    ) {
      let message = ""
      try {
        Url.normalizeBaseUrl(withPassword)
      } catch (e) {
        message = (e as Error).message
      }
      expect(message, withPassword).not.toBe("")
      expect(message).not.toContain("pw0rd")
    }
    expect(Url.redactUrlCredentials("a postgres://u:p@ss:w@h:5432/db and http://x:y@z/ too")).toBe(
      "a postgres://u:***@h:5432/db and http://x:***@z/ too"
    )
  })

  it("derives the token scope from national cloud hosts", () => {
    expect(Url.scopeForBaseUrl("https://graph.microsoft.us/v1.0")).toBe("https://graph.microsoft.us/.default")
    expect(Url.scopeForBaseUrl("https://microsoftgraph.chinacloudapi.cn/v1.0")).toBe(
      "https://microsoftgraph.chinacloudapi.cn/.default"
    )
    expect(Url.scopeForBaseUrl("http://127.0.0.1:1234/v1.0")).toBe("https://graph.microsoft.com/.default")
  })

  it("turns stored links into route templates without ids", () => {
    expect(
      Url.routeOfLink(
        base,
        `${base}/users/abc/onlineMeetings/getAllRecordings(meetingOrganizerUserId='abc')/delta?$deltatoken=xyz`
      )
    ).toBe("/users/{id}/onlineMeetings/getAllRecordings(...)/delta")
  })
})
