import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { describe, expect, it } from "vitest"
import { EmulatorError, FixtureError, startEmulator, type TenantFixture } from "../src/index.js"
import { enc, get } from "./helpers.js"

const tmp = () => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "emu-fixture-"))

const base: TenantFixture = {
  tenantId: "t1",
  users: [{ id: "u1", displayName: "User One" }],
  meetings: [{ id: "m1", organizerId: "u1", recordings: [], transcripts: [] }]
}

describe("fixtures", () => {
  it("rejects bad fixtures with a typed error that says what is wrong", async () => {
    const dir = tmp()
    const cases: Array<[unknown, RegExp]> = [
      [{ ...base, meetings: [{ id: "m1", organizerId: "nobody" }] }, /organizerId "nobody" is not in users/],
      [
        { ...base, meetings: [{ id: "m1", organizerId: "u1" }, { id: "m1", organizerId: "u1" }] },
        /duplicate meeting id/
      ],
      [{ tenantId: "t" }, /invalid tenant fixture/],
      [
        {
          ...base,
          meetings: [{
            id: "m1",
            organizerId: "u1",
            recordings: [{ id: "r", createdDateTime: "2024-01-01T00:00:00Z", content: { file: "missing.mp4" } }]
          }]
        },
        /content file not found/
      ]
    ]
    for (const [fixture, message] of cases) {
      const file = NodePath.join(dir, "tenant.json")
      NodeFs.writeFileSync(file, JSON.stringify(fixture))
      const error = await startEmulator({ fixture: file }).then(() => undefined, (e) => e)
      expect(error).toBeInstanceOf(FixtureError)
      expect(error.message).toMatch(message)
    }
    NodeFs.writeFileSync(NodePath.join(dir, "broken.json"), "{ not json")
    const broken = await startEmulator({ fixture: NodePath.join(dir, "broken.json") }).then(() => undefined, (e) => e)
    expect(broken).toBeInstanceOf(FixtureError)
    expect(broken.message).toMatch(/not valid JSON/)
  })

  it("serves content from files relative to the fixture, empty content, and HEAD without a body", async () => {
    const dir = tmp()
    NodeFs.mkdirSync(NodePath.join(dir, "media"))
    const video = NodeCryptoBytes(300_000)
    NodeFs.writeFileSync(NodePath.join(dir, "media", "a.mp4"), video)
    NodeFs.writeFileSync(
      NodePath.join(dir, "media", "t.vtt"),
      "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v A>Hi.</v>\n"
    )
    const fixture: TenantFixture = {
      ...base,
      meetings: [{
        id: "m1",
        organizerId: "u1",
        recordings: [
          {
            id: "a/1+",
            createdDateTime: "2024-01-01T00:00:00Z",
            content: { file: "media/a.mp4" },
            contentType: "video/mp4"
          },
          { id: "empty=", createdDateTime: "2024-01-01T01:00:00Z", content: { bytes: 0, seed: 1 } }
        ],
        transcripts: [{ id: "t1", createdDateTime: "2024-01-01T00:00:00Z", content: { file: "media/t.vtt" } }]
      }]
    }
    NodeFs.writeFileSync(NodePath.join(dir, "tenant.json"), JSON.stringify(fixture))
    const emu = await startEmulator({ fixture: NodePath.join(dir, "tenant.json") })
    try {
      const file = await get(emu, `/users/u1/onlineMeetings/m1/recordings/${enc("a/1+")}/content`)
      expect(Buffer.from(await file.arrayBuffer()).equals(video)).toBe(true)
      const range = await get(emu, `/users/u1/onlineMeetings/m1/recordings/${enc("a/1+")}/content`, {
        headers: { range: "bytes=-1000" }
      })
      expect(range.status).toBe(206)
      expect(Buffer.from(await range.arrayBuffer()).equals(video.subarray(video.length - 1000))).toBe(true)
      const empty = await get(emu, `/users/u1/onlineMeetings/m1/recordings/${enc("empty=")}/content`)
      expect(empty.status).toBe(200)
      expect(empty.headers.get("content-length")).toBe("0")
      expect((await empty.arrayBuffer()).byteLength).toBe(0)
      const head = await fetch(`${emu.baseUrl}/users/u1/onlineMeetings/m1/recordings/${enc("a/1+")}/content`, {
        method: "HEAD",
        headers: { authorization: `Bearer ${emu.accessToken}` }
      })
      expect(head.status).toBe(200)
      expect(head.headers.get("content-length")).toBe("300000")
      const c = emu.counters()
      expect(c.contentRequests["a/1+"]).toBe(2)
      expect(c.contentRequests["empty="]).toBe(1)
      // a transcript file without metadataContent: derived from the file's cues, as Graph serves one for every transcript
      const meta = await get(emu, `/users/u1/onlineMeetings/m1/transcripts/t1/metadataContent`)
      expect(meta.status).toBe(200)
      expect((await meta.text()).split("\n")[3]).toBe(
        JSON.stringify({
          startDateTime: "2024-01-01T00:00:01.000Z",
          endDateTime: "2024-01-01T00:00:02.000Z",
          speakerName: "A",
          spokenText: "Hi.",
          spokenLanguage: "en-us"
        })
      )
    } finally {
      await emu.close()
    }
  })

  it("adds meetings and artifacts at runtime; rejects duplicates and unknown meetings", async () => {
    const emu = await startEmulator({ fixture: base })
    try {
      emu.addMeeting({ id: "m2", organizerId: "u1", subject: "later" })
      emu.addTranscript("m2", {
        id: "t2",
        createdDateTime: "2024-01-02T00:00:00.0000000Z",
        content: { text: "WEBVTT\n\n" }
      })
      const list = await get(emu, `/users/u1/onlineMeetings/m2/transcripts`)
      expect(((await list.json()) as any).value.map((t: any) => t.id)).toEqual(["t2"])
      expect(() =>
        emu.addTranscript("m2", { id: "t2", createdDateTime: "2024-01-02T00:00:00Z", content: { text: "" } })
      ).toThrow(EmulatorError)
      expect(() =>
        emu.addRecording("nope", { id: "r9", createdDateTime: "2024-01-02T00:00:00Z", content: { bytes: 1 } })
      ).toThrow(/no meeting/)
      const admin = await fetch(`${emu.origin}/_emulator/meetings`, {
        method: "POST",
        body: JSON.stringify({ id: "m3", organizerId: "u1" })
      })
      expect(admin.status).toBe(201)
      expect((await get(emu, `/users/u1/onlineMeetings/m3`)).status).toBe(200)
      const bad = await fetch(`${emu.origin}/_emulator/transcripts`, {
        method: "POST",
        body: JSON.stringify({ meetingId: "m3", transcript: { id: 5 } })
      })
      expect(bad.status).toBe(400)
    } finally {
      await emu.close()
    }
  })
})

function NodeCryptoBytes(n: number): Buffer {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = (i * 7919) & 0xff
  return b
}
