import * as NodeCrypto from "node:crypto"
import { afterEach, describe, expect, it } from "vitest"
import {
  type FaultConfig,
  type FixtureRecording,
  type FixtureTranscript,
  generatedBytes,
  type RunningEmulator,
  startEmulator
} from "../src/index.js"
import { enc, get } from "./helpers.js"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Seconds to wait from a Retry-After header (seconds or HTTP date); absent → a short backoff. */
const retryAfterMs = (value: string | null) => {
  if (value === null) return 50
  const n = Number(value)
  return Number.isFinite(n) ? n * 1000 : Math.max(0, Date.parse(value) - Date.now())
}

/**
 * A careful client, as the api package should be: retries 429/5xx honouring Retry-After, retries
 * resets, short bodies and malformed JSON, follows redirects WITHOUT the Authorization header.
 */
const robustFetch = async (emu: RunningEmulator, url: string, headers: Record<string, string> = {}) => {
  for (let attempt = 0; attempt < 25; attempt++) {
    try {
      let res = await fetch(url, {
        headers: { authorization: `Bearer ${emu.accessToken}`, ...headers },
        redirect: "manual"
      })
      if (res.status === 302) res = await fetch(res.headers.get("location")!, { headers, redirect: "manual" })
      if ([429, 500, 502, 503, 504].includes(res.status)) {
        await res.arrayBuffer()
        await sleep(retryAfterMs(res.headers.get("retry-after")))
        continue
      }
      const body = Buffer.from(await res.arrayBuffer())
      const length = res.headers.get("content-length")
      if (length !== null && Number(length) !== body.length) continue
      return { status: res.status, headers: res.headers, body }
    } catch {
      // connection reset / aborted body: retry
    }
  }
  throw new Error(`gave up on ${url}`)
}

const robustJson = async (emu: RunningEmulator, url: string) => {
  for (let attempt = 0; attempt < 10; attempt++) {
    const r = await robustFetch(emu, url)
    try {
      return { status: r.status, body: JSON.parse(r.body.toString("utf8")) }
    } catch {
      // malformed page: retry
    }
  }
  throw new Error(`no valid JSON from ${url}`)
}

const sha = (b: Uint8Array) => NodeCrypto.createHash("sha256").update(b).digest("hex")

describe("fault injection", () => {
  let emu: RunningEmulator | undefined
  afterEach(async () => {
    await emu?.close()
    emu = undefined
  })

  it("hostile: every fault is transient, a careful client exports everything byte-exact", async () => {
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 5, seed: 21, recordingBytes: [200_000, 600_000] },
      faults: "hostile",
      seed: 4,
      pageSize: 2
    })
    const org = emu.fixture.users[0]!.id
    const recordings = new Map<string, FixtureRecording & { meetingId: string }>()
    const transcripts = new Map<string, FixtureTranscript & { meetingId: string }>()
    for (const m of emu.fixture.meetings) {
      for (const r of m.recordings ?? []) recordings.set(r.id, { ...r, meetingId: m.id })
      for (const t of m.transcripts ?? []) transcripts.set(t.id, { ...t, meetingId: m.id })
    }
    const listed = { Recordings: [] as Array<any>, Transcripts: [] as Array<any> }
    for (const kind of ["Recordings", "Transcripts"] as const) {
      let next: string | undefined =
        `${emu.baseUrl}/users/${org}/onlineMeetings/getAll${kind}(meetingOrganizerUserId='${org}',startDateTime=2024-01-01T00:00:00Z)/delta`
      while (next) {
        const page: { body: any } = await robustJson(emu, next)
        listed[kind].push(...page.body.value)
        next = page.body["@odata.nextLink"]
      }
    }
    expect(listed.Recordings.map((r) => r.id).sort()).toEqual([...recordings.keys()].sort())
    expect(listed.Transcripts.map((t) => t.id).sort()).toEqual([...transcripts.keys()].sort())
    for (const r of listed.Recordings) {
      const res = await robustFetch(
        emu,
        `${emu.baseUrl}/users/${org}/onlineMeetings/${enc(r.meetingId)}/recordings/${enc(r.id)}/content`
      )
      const spec = recordings.get(r.id)!.content as { bytes: number; seed: number }
      expect(res.status).toBe(200)
      expect(sha(res.body)).toBe(sha(generatedBytes(spec.seed, spec.bytes)))
    }
    for (const t of listed.Transcripts) {
      const res = await robustFetch(
        emu,
        `${emu.baseUrl}/users/${org}/onlineMeetings/${enc(t.meetingId)}/transcripts/${
          enc(t.id)
        }/content?$format=text/vtt`,
        { accept: "text/vtt" }
      )
      expect(res.status).toBe(200)
      expect(res.body.toString("utf8")).toBe((transcripts.get(t.id)!.content as { text: string }).text)
    }
    const c = emu.counters()
    const kinds = Object.keys(c.faults)
    // a good spread of faults was really injected
    expect(kinds.length).toBeGreaterThanOrEqual(5)
    expect(c.faults.malformedJson).toBe(1)
    expect(c.secondOrigin.withCredentials).toBe(0)
    for (const id of [...recordings.keys(), ...transcripts.keys()]) {
      expect(c.contentRequests[id]).toBeGreaterThanOrEqual(1)
    }
  })

  it("is deterministic from the seed", async () => {
    const config: FaultConfig = {
      seed: 99,
      rules: [{ fault: "429-seconds", probability: 0.3 }, { fault: "500", probability: 0.2 }, {
        fault: "emptyPage",
        probability: 0.3
      }],
      maxFaultsPerRequest: 5
    }
    const run = async () => {
      const e = await startEmulator({ generate: { organizers: 1, meetingsPerOrganizer: 3, seed: 8 }, faults: config })
      const statuses: Array<number> = []
      const org = e.fixture.users[0]!.id
      for (let i = 0; i < 30; i++) {
        const res = await get(
          e,
          `/users/${org}/onlineMeetings/getAllRecordings(meetingOrganizerUserId='${org}')?i=${i % 7}`
        )
        statuses.push(res.status * 10 + (res.status === 200 && ((await res.json()) as any).value.length === 0 ? 1 : 0))
      }
      await e.close()
      return statuses
    }
    const a = await run()
    const b = await run()
    expect(a).toEqual(b)
    expect(new Set(a).size).toBeGreaterThan(2)
  })

  it("302 to a second origin that refuses Authorization (and counts it)", async () => {
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 1, seed: 1, mix: { paired: 1 } },
      faults: { rules: [{ fault: "redirect", probability: 1 }], maxFaultsPerRequest: 100 }
    })
    const m = emu.fixture.meetings[0]!
    const r = m.recordings![0]!
    const url = `/users/${m.organizerId}/onlineMeetings/${enc(m.id)}/recordings/${enc(r.id)}/content`
    const first = await get(emu, url)
    expect(first.status).toBe(302)
    const location = first.headers.get("location")!
    expect(location.startsWith(emu.secondOrigin)).toBe(true)
    const withAuth = await fetch(location, { headers: { authorization: `Bearer ${emu.accessToken}` } })
    expect(withAuth.status).toBe(401)
    const clean = await fetch(location)
    expect(clean.status).toBe(200)
    expect(clean.headers.get("content-type")).toBe("video/mp4")
    const spec = r.content as { bytes: number; seed: number }
    expect(sha(new Uint8Array(await clean.arrayBuffer()))).toBe(sha(generatedBytes(spec.seed, spec.bytes)))
    const c = emu.counters()
    expect(c.secondOrigin).toEqual({ requests: 2, withCredentials: 1 })
    expect(c.faults.redirect).toBe(1)
    expect(c.contentRequests[r.id]).toBe(1)
    // transcript content redirects too, keeping its content type
    const t = m.transcripts![0]!
    const tr = await get(emu, `/users/${m.organizerId}/onlineMeetings/${enc(m.id)}/transcripts/${enc(t.id)}/content`, {
      headers: { accept: "text/vtt" }
    })
    expect(tr.status).toBe(302)
    const followed = await fetch(tr.headers.get("location")!)
    expect(followed.headers.get("content-type")).toBe("text/vtt")
    expect(await followed.text()).toBe((t.content as { text: string }).text)
  })

  it("resets the connection in the middle of a content body, once per request", async () => {
    emu = await startEmulator({
      generate: {
        organizers: 1,
        meetingsPerOrganizer: 1,
        seed: 1,
        mix: { recordingOnly: 1 },
        recordingBytes: 2_000_000
      },
      faults: { rules: [{ fault: "reset", probability: 1 }], maxFaultsPerRequest: 1 }
    })
    const m = emu.fixture.meetings[0]!
    const r = m.recordings![0]!
    const url = `/users/${m.organizerId}/onlineMeetings/${enc(m.id)}/recordings/${enc(r.id)}/content`
    const first = await get(emu, url)
    expect(first.status).toBe(200)
    expect(first.headers.get("content-length")).toBe("2000000")
    await expect(first.arrayBuffer()).rejects.toThrow()
    const second = await get(emu, url)
    expect((await second.arrayBuffer()).byteLength).toBe(2_000_000)
    const c = emu.counters()
    expect(c.faults.reset).toBe(1)
    expect(c.contentRequests[r.id]).toBe(1)
  })

  it("serves one malformed JSON page, then valid ones", async () => {
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 2, seed: 1 },
      faults: { rules: [{ fault: "malformedJson", probability: 1, limit: 1 }] }
    })
    const m = emu.fixture.meetings[0]!
    const url = `/users/${m.organizerId}/onlineMeetings/${enc(m.id)}/recordings`
    const bad = await get(emu, url)
    expect(bad.status).toBe(200)
    expect(bad.headers.get("content-type")).toContain("application/json")
    const text = await bad.text()
    expect(() => JSON.parse(text)).toThrow()
    const good = await get(emu, url)
    expect(((await good.json()) as any).value).toBeInstanceOf(Array)
  })

  it("applies per-route rules and the 429 Retry-After variants", async () => {
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 1, seed: 1, mix: { paired: 1 } },
      faults: {
        rules: [
          { fault: "503", probability: 1, routes: ["transcriptContent"] },
          { fault: "429-date", probability: 1, routes: ["recordings"] },
          { fault: "429-none", probability: 1, routes: ["transcripts"] },
          { fault: "429-seconds", probability: 1, routes: ["meeting"] }
        ],
        maxFaultsPerRequest: 1,
        retryAfterSeconds: 2
      }
    })
    const m = emu.fixture.meetings[0]!
    const base = `/users/${m.organizerId}/onlineMeetings/${enc(m.id)}`
    const t = m.transcripts![0]!
    const content = await get(emu, `${base}/transcripts/${enc(t.id)}/content`, { headers: { accept: "text/vtt" } })
    expect(content.status).toBe(503)
    expect(content.headers.get("retry-after")).toBe("2")
    const rec = await get(emu, `${base}/recordings`)
    expect(rec.status).toBe(429)
    const date = Date.parse(rec.headers.get("retry-after")!)
    expect(date).toBeGreaterThan(Date.now() - 1000)
    expect(date).toBeLessThanOrEqual(Date.now() + 2000)
    expect(((await rec.json()) as any).error.code).toBe("TooManyRequests")
    const tr = await get(emu, `${base}/transcripts`)
    expect(tr.status).toBe(429)
    expect(tr.headers.get("retry-after")).toBeNull()
    const meeting = await get(emu, base)
    expect(meeting.status).toBe(429)
    expect(meeting.headers.get("retry-after")).toBe("2")
    // the recording itself has no rule
    expect((await get(emu, `${base}/recordings/${enc(m.recordings![0]!.id)}`)).status).toBe(200)
    // retrying each succeeds (transient)
    for (const u of [`${base}/recordings`, `${base}/transcripts`, base]) expect((await get(emu, u)).status).toBe(200)
    expect((await get(emu, `${base}/transcripts/${enc(t.id)}/content`, { headers: { accept: "text/vtt" } })).status)
      .toBe(200)
    expect(emu.counters().throttled).toBe(3)
  })

  it("rate-limits per tenant with a token bucket and an accurate Retry-After", async () => {
    // The bucket's clock stands still unless the test moves it: a loaded machine cannot refill it.
    let now = 1_700_000_000_000
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 1, seed: 1 },
      faults: { rateLimit: { requestsPerSecond: 2, burst: 2 } },
      now: () => now
    })
    const m = emu.fixture.meetings[0]!
    const url = `/users/${m.organizerId}/onlineMeetings/${enc(m.id)}`
    expect((await get(emu, url)).status).toBe(200)
    expect((await get(emu, url)).status).toBe(200)
    const limited = await get(emu, url)
    expect(limited.status).toBe(429)
    const wait = Number(limited.headers.get("retry-after"))
    expect(wait).toBe(1) // one token at 2 per second: half a second, rounded up
    now += wait * 1000 - 1
    expect((await get(emu, url)).status).toBe(200) // half a second refilled a token already
    expect((await get(emu, url)).status).toBe(429)
    now += wait * 1000
    expect((await get(emu, url)).status).toBe(200)
    expect(emu.counters().faults.rateLimit).toBe(2)
  })

  it("enforces a concurrency ceiling (content bodies in flight count)", async () => {
    emu = await startEmulator({
      generate: {
        organizers: 1,
        meetingsPerOrganizer: 1,
        seed: 1,
        mix: { recordingOnly: 1 },
        recordingBytes: 64_000_000
      },
      faults: { maxConcurrency: 1 }
    })
    const m = emu.fixture.meetings[0]!
    const r = m.recordings![0]!
    const controller = new AbortController()
    const slow = await fetch(
      `${emu.baseUrl}/users/${m.organizerId}/onlineMeetings/${enc(m.id)}/recordings/${enc(r.id)}/content`,
      {
        headers: { authorization: `Bearer ${emu.accessToken}` },
        signal: controller.signal
      }
    )
    expect(slow.status).toBe(200)
    const second = await get(emu, `/users/${m.organizerId}/onlineMeetings/${enc(m.id)}`)
    expect(second.status).toBe(429)
    expect(emu.counters().faults.concurrency).toBe(1)
    controller.abort()
    let status = 0
    for (let i = 0; i < 100 && status !== 200; i++) {
      await sleep(20)
      status = (await get(emu, `/users/${m.organizerId}/onlineMeetings/${enc(m.id)}`)).status
    }
    expect(status).toBe(200)
  })

  it("deltaDuplicates: a replayed deltaLink also returns artifacts already seen", async () => {
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 4, seed: 3, mix: { recordingOnly: 1 } },
      faults: { rules: [{ fault: "deltaDuplicates", probability: 1 }], maxFaultsPerRequest: 1 }
    })
    const org = emu.fixture.users[0]!.id
    const first = await robustJson(
      emu,
      `${emu.baseUrl}/users/${org}/onlineMeetings/getAllRecordings(meetingOrganizerUserId='${org}')/delta?$top=100`
    )
    const seen = first.body.value.map((r: any) => r.id)
    expect(seen).toHaveLength(4)
    emu.addRecording(emu.fixture.meetings[0]!.id, {
      id: "new=",
      createdDateTime: "2024-02-01T00:00:00Z",
      content: { bytes: 1 }
    })
    const replay = await robustJson(emu, first.body["@odata.deltaLink"])
    const ids = replay.body.value.map((r: any) => r.id)
    expect(ids).toContain("new=")
    expect(ids.filter((id: string) => seen.includes(id)).length).toBeGreaterThan(0)
    // transient: the same deltaLink again returns only what is new
    const again = await robustJson(emu, first.body["@odata.deltaLink"])
    expect(again.body.value.map((r: any) => r.id)).toEqual(["new="])
    expect(emu.counters().faults.deltaDuplicates).toBe(1)
  })

  it("switches faults at runtime (library and admin route)", async () => {
    emu = await startEmulator({ generate: { organizers: 1, meetingsPerOrganizer: 1, seed: 1 } })
    const m = emu.fixture.meetings[0]!
    const url = `/users/${m.organizerId}/onlineMeetings/${enc(m.id)}`
    expect((await get(emu, url)).status).toBe(200)
    emu.setFaults({ rules: [{ fault: "504", probability: 1 }], maxFaultsPerRequest: 1 })
    expect((await get(emu, url)).status).toBe(504)
    const put = await fetch(`${emu.origin}/_emulator/faults`, {
      method: "PUT",
      body: JSON.stringify({ rules: [{ fault: "502", probability: 1 }] })
    })
    expect(put.status).toBe(201)
    expect((await get(emu, url)).status).toBe(502)
    const unknown = await fetch(`${emu.origin}/_emulator/faults`, { method: "PUT", body: JSON.stringify("nasty") })
    expect(unknown.status).toBe(400)
    const counters = (await (await fetch(`${emu.origin}/_emulator/counters`)).json()) as any
    expect(counters.faults).toEqual({ "504": 1, "502": 1 })
  })
})
