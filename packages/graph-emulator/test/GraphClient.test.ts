/**
 * The official Microsoft Graph JS SDK against the emulator, served over HTTPS (the SDK only follows
 * https nextLinks) with the test CA that globalSetup put in NODE_EXTRA_CA_CERTS.
 */
import { Client, PageIterator, RetryHandlerOptions } from "@microsoft/microsoft-graph-client"
import { afterEach, describe, expect, it } from "vitest"
import { generatedBytes, type RunningEmulator, startEmulator, type TestCa } from "../src/index.js"

const ca = JSON.parse(process.env.GRAPH_EMULATOR_TEST_CA!) as TestCa

const clientFor = (emu: RunningEmulator) =>
  Client.initWithMiddleware({
    authProvider: { getAccessToken: async () => emu.accessToken },
    baseUrl: emu.origin,
    defaultVersion: "v1.0",
    customHosts: new Set(["127.0.0.1"])
  })

const readAll = async (stream: ReadableStream<Uint8Array>) => {
  const parts: Array<Uint8Array> = []
  const reader = stream.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    parts.push(value)
  }
  return new Uint8Array(Buffer.concat(parts))
}

describe("@microsoft/microsoft-graph-client", () => {
  let emu: RunningEmulator | undefined
  afterEach(async () => {
    await emu?.close()
    emu = undefined
  })

  it("PageIterator walks a multi-page list including empty pages that carry a nextLink", async () => {
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 10, seed: 11 },
      tls: ca,
      pageSize: 3,
      // the first two pages served are empty but still have a nextLink
      faults: { rules: [{ fault: "emptyPage", probability: 1, limit: 2 }] }
    })
    const org = emu.fixture.users[0]!.id
    const expected = emu.fixture.meetings.flatMap((m) => (m.recordings ?? []).map((r) => r.id))
    expect(expected.length).toBeGreaterThan(6)
    const client = clientFor(emu)
    const first = await client.api(
      `/users/${org}/onlineMeetings/getAllRecordings(meetingOrganizerUserId='${org}',startDateTime=2024-01-01T00:00:00Z,endDateTime=2025-01-01T00:00:00Z)`
    ).get()
    expect(first.value).toEqual([])
    expect(first["@odata.nextLink"]).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/v1\.0\//)
    const seen: Array<string> = []
    const iterator = new PageIterator(client, first, (item: { id: string }) => {
      seen.push(item.id)
      return true
    })
    await iterator.iterate()
    expect(iterator.isComplete()).toBe(true)
    expect(seen).toEqual(expected)
    expect(emu.counters().faults.emptyPage).toBe(2)
  })

  it("RetryHandler gets through the throttled profile and getStream returns content byte-exact", async () => {
    emu = await startEmulator({
      generate: {
        organizers: 1,
        meetingsPerOrganizer: 6,
        seed: 5,
        recordingBytes: [100_000, 300_000],
        mix: { paired: 1 }
      },
      tls: ca,
      faults: "throttled",
      seed: 3
    })
    const client = clientFor(emu)
    const org = emu.fixture.users[0]!.id
    // short base delay for the 429s that come without Retry-After; Retry-After itself is honoured
    const retry = new RetryHandlerOptions(1, 3)
    for (const meeting of emu.fixture.meetings) {
      const page = await client.api(`/users/${org}/onlineMeetings/${encodeURIComponent(meeting.id)}/recordings`)
        .middlewareOptions([retry]).get()
      expect(page.value.map((r: { id: string }) => r.id)).toEqual((meeting.recordings ?? []).map((r) => r.id))
      for (const r of meeting.recordings ?? []) {
        const stream = await client
          .api(
            `/users/${org}/onlineMeetings/${encodeURIComponent(meeting.id)}/recordings/${
              encodeURIComponent(r.id)
            }/content`
          )
          .middlewareOptions([retry])
          .getStream()
        const bytes = await readAll(stream)
        const spec = r.content as { bytes: number; seed: number }
        expect(bytes.length).toBe(spec.bytes)
        expect(Buffer.from(bytes).equals(Buffer.from(generatedBytes(spec.seed, spec.bytes)))).toBe(true)
      }
    }
    const counters = emu.counters()
    // the profile did throttle, and every throttled request was retried to success
    expect(counters.throttled).toBeGreaterThan(0)
    expect(counters.faults["429-seconds"] ?? 0).toBeGreaterThan(0)
    expect(Object.keys(counters.contentRequests).length).toBe(
      emu.fixture.meetings.flatMap((m) => m.recordings ?? []).length
    )
  })
})
