/**
 * Range support on content and the counters that let a test prove what a client paid for: bytes served
 * per artifact, the Range headers received, `ignoreRange` (a server that answers 200 whatever the Range)
 * and `contentBytesPerSecond` (a slow link, so a client can be killed in the middle of a body).
 */
import { afterEach, describe, expect, it } from "vitest"
import { generatedBytes, type RunningEmulator, startEmulator } from "../src/index.js"
import { Pacer } from "../src/internal/content.js"
import { enc, get } from "./helpers.js"

describe("content ranges and byte counters", () => {
  let emu: RunningEmulator | undefined
  afterEach(async () => {
    await emu?.close()
    emu = undefined
  })

  const oneRecording = async (bytes: number, faults: Parameters<typeof startEmulator>[0]["faults"] = {}) => {
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 1, seed: 5, mix: { recordingOnly: 1 }, recordingBytes: bytes },
      faults
    })
    const m = emu.fixture.meetings[0]!
    const r = m.recordings![0]!
    const content = r.content as { bytes: number; seed?: number }
    return {
      emu,
      id: r.id,
      data: generatedBytes(content.seed ?? 1, content.bytes),
      url: `/users/${m.organizerId}/onlineMeetings/${enc(m.id)}/recordings/${enc(r.id)}/content`
    }
  }

  it("counts bytes served per artifact and the Range headers it received", async () => {
    const { data, emu, id, url } = await oneRecording(300_000)
    const part = await get(emu, url, { headers: { range: "bytes=100000-" } })
    expect(part.status).toBe(206)
    expect(part.headers.get("content-range")).toBe("bytes 100000-299999/300000")
    expect(Buffer.from(await part.arrayBuffer()).equals(Buffer.from(data.subarray(100_000)))).toBe(true)
    const whole = await get(emu, url)
    expect((await whole.arrayBuffer()).byteLength).toBe(300_000)
    const c = emu.counters()
    expect(c.contentBytesById[id]).toBe(200_000 + 300_000)
    expect(c.contentRanges[id]).toEqual(["bytes=100000-"])
    emu.resetCounters()
    expect(emu.counters().contentBytesById).toEqual({})
    expect(emu.counters().contentRanges).toEqual({})
  })

  it("a stable strong ETag per content; If-Range with it keeps the Range (206), any other validator gets 200 and the whole body", async () => {
    const { data, emu, id, url } = await oneRecording(100_000)
    const first = await get(emu, url)
    const etag = first.headers.get("etag")
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/)
    await first.arrayBuffer()
    const again = await get(emu, url, { headers: { range: "bytes=40000-" } })
    expect(again.headers.get("etag")).toBe(etag)
    await again.arrayBuffer()
    const matching = await get(emu, url, { headers: { range: "bytes=60000-", "if-range": etag! } })
    expect(matching.status).toBe(206)
    expect(Buffer.from(await matching.arrayBuffer()).equals(Buffer.from(data.subarray(60_000)))).toBe(true)
    for (const other of ["\"0123\"", "Tue, 02 Jan 2024 10:00:00 GMT"]) {
      const changed = await get(emu, url, { headers: { range: "bytes=60000-", "if-range": other } })
      expect(changed.status).toBe(200)
      expect(changed.headers.get("content-range")).toBeNull()
      expect(Buffer.from(await changed.arrayBuffer()).equals(Buffer.from(data))).toBe(true)
    }
    expect(emu.counters().contentRanges[id]).toEqual(["bytes=40000-", "bytes=60000-", "bytes=60000-", "bytes=60000-"])
    // other content (another size) has another ETag
    await emu.close()
    const other = await oneRecording(100_001)
    const res = await get(other.emu, other.url)
    expect(res.headers.get("etag")).not.toBe(etag)
    await res.arrayBuffer()
  })

  it("ignoreRange: 200 and the whole body whatever the Range header says", async () => {
    const { data, emu, id, url } = await oneRecording(100_000, { ignoreRange: true })
    const res = await get(emu, url, { headers: { range: "bytes=50000-" } })
    expect(res.status).toBe(200)
    expect(res.headers.get("content-range")).toBeNull()
    expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(data))).toBe(true)
    expect(emu.counters().contentRanges[id]).toEqual(["bytes=50000-"])
    expect(emu.counters().contentBytesById[id]).toBe(100_000)
  })

  it("contentBytesPerSecond: a paced body is still byte-exact, and a reader can stop it part way", async () => {
    // 16 MiB at 16 MiB/s: the reader stops after its first chunk. The body cannot be complete by then,
    // whatever the load: the emulator's writes block once the loopback buffers (a few MiB) are full.
    const { data, emu, id, url } = await oneRecording(16 * 1024 * 1024, { contentBytesPerSecond: 16 * 1024 * 1024 })
    const res = await get(emu, url)
    const reader = res.body!.getReader()
    const first = await reader.read()
    expect(first.done).toBe(false)
    await reader.cancel()
    // Wait for the emulator to see the close (a condition, bounded), not for a fixed time.
    for (let i = 0; i < 1000 && emu.counters().contentAborted[id] === undefined; i++) {
      await new Promise((r) => setTimeout(r, 10))
    }
    expect(emu.counters().contentAborted[id]).toBe(1)
    const served = emu.counters().contentBytesById[id] ?? 0
    expect(served).toBeGreaterThan(0)
    expect(served).toBeLessThan(data.length)
    expect(emu.counters().contentRequests[id]).toBeUndefined()
    const full = await get(emu, url)
    expect(Buffer.from(await full.arrayBuffer()).equals(Buffer.from(data))).toBe(true)
    expect(emu.counters().contentRequests[id]).toBe(1)
  })
})

describe("content pacing (a token bucket per response stream)", () => {
  it("sends one slice at a time at the rate, and a stream that fell behind does not catch up in a burst", () => {
    let now = 0
    const pacer = new Pacer(100_000, () => now)
    // 2 KB slices: 20 ms of the rate
    expect(pacer.slice).toBe(2000)
    expect(pacer.take(2000)).toBe(0)
    expect(pacer.take(2000)).toBe(20)
    now += 20
    expect(pacer.take(2000)).toBe(0)
    // the client stopped reading for 10 s: the bucket holds two slices, not the 1 MB the rate would have sent
    now += 10_000
    expect(pacer.take(2000)).toBe(0)
    expect(pacer.take(2000)).toBe(0)
    expect(pacer.take(2000)).toBe(20)
    now += 5
    expect(pacer.take(2000)).toBe(15)
  })

  it("cuts slices between 1 KiB and 64 KiB whatever the rate", () => {
    expect(new Pacer(1000).slice).toBe(1024)
    expect(new Pacer(1024 ** 3).slice).toBe(64 * 1024)
  })
})
