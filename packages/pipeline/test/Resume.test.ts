/**
 * Cross-run resume of recording downloads: a `.part` (with its meta) that an earlier run left is
 * continued with `Range` instead of paid for again, started over when the server ignores Range or the
 * part belongs to other content, and tidied by the sweep when it cannot be resumed or is old. Against
 * the emulator over loopback with the real sinks; the emulator's per-artifact byte counter says what
 * was served. (The real SIGKILL case is test/sync-resume.test.ts.)
 */
import { generatedBytes, generateTenant, type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { execFileSync } from "node:child_process"
import * as Fiber from "effect/Fiber"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { SyncOptions } from "../src/index.js"
import * as Staging from "../src/internal/staging.js"
import { readManifest, runSync, sha256, tempOut, WINDOW } from "./support.js"

const run = (baseUrl: string, token: string, options: SyncOptions, policy?: Record<string, number>) =>
  runSync(baseUrl, token, options, { baseDelayMs: 10, maxBackoffMs: 100, ...policy })
const manifest = readManifest

describe("resuming a recording download an earlier run left", () => {
  let emu: RunningEmulator
  let rec: { id: string; bytes: Uint8Array; url: string }
  /** The ETag the emulator sends for the recording's content. */
  let etag = ""
  const organizers = () => emu.fixture.users.map((u) => u.id)
  const stagingDir = (out: string) => path.join(out, ".meeting-artifacts", "staging")
  /** A run over the window with no faults and fresh counters (what a user's next run is). */
  const syncAgain = (out: string) => {
    emu.setFaults({})
    emu.resetCounters()
    return run(emu.baseUrl, emu.accessToken, { organizers: organizers(), ...WINDOW, out })
  }
  /** What a killed run leaves: the first `n` bytes in `<key>.part` and the meta naming the artifact. */
  const leavePart = (out: string, n: number, meta: Record<string, unknown> = {}) => {
    const dir = stagingDir(out)
    fs.mkdirSync(dir, { recursive: true })
    const key = Staging.stagingKey("recording", rec.id)
    fs.writeFileSync(path.join(dir, `${key}.part`), rec.bytes.subarray(0, n))
    fs.writeFileSync(
      path.join(dir, `${key}.json`),
      JSON.stringify({ kind: "recording", id: rec.id, contentType: "video/mp4", size: rec.bytes.length, ...meta })
    )
  }
  const expectExported = (out: string) => {
    const line = manifest(out).find((l) => l.recording?.id === rec.id)
    expect(line.recording.bytes).toBe(rec.bytes.length)
    expect(line.recording.sha256).toBe(sha256(rec.bytes))
    expect(sha256(fs.readFileSync(path.join(out, line.recording.path)))).toBe(sha256(rec.bytes))
    // Nothing left in staging once the artifact is checkpointed.
    expect(fs.readdirSync(stagingDir(out))).toEqual([])
  }

  beforeAll(async () => {
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 1, seed: 9, mix: { recordingOnly: 1 }, recordingBytes: 600_000 }
    })
    const r = emu.fixture.meetings[0]!.recordings![0]!
    const c = r.content as { bytes: number; seed?: number }
    const m = emu.fixture.meetings[0]!
    const url = `${emu.baseUrl}/users/${m.organizerId}/onlineMeetings/${encodeURIComponent(m.id)}/recordings/${
      encodeURIComponent(r.id)
    }/content`
    rec = { id: r.id, bytes: generatedBytes(c.seed ?? 1, c.bytes), url }
    const head = await fetch(url, { method: "HEAD", headers: { authorization: `Bearer ${emu.accessToken}` } })
    expect(head.status).toBe(200)
    etag = head.headers.get("etag") ?? ""
    expect(etag).not.toBe("")
  })
  afterAll(() => emu?.close())

  it("206: only the missing bytes are served and appended; the file, manifest and progress are of the whole recording", async () => {
    const out = tempOut()
    leavePart(out, 250_000)
    emu.setFaults({})
    emu.resetCounters()
    const { events, summary } = await run(emu.baseUrl, emu.accessToken, { organizers: organizers(), ...WINDOW, out })
    const c = emu.counters()
    expect(c.contentRanges[rec.id]).toEqual(["bytes=250000-"])
    expect(c.contentBytesById[rec.id]).toBe(rec.bytes.length - 250_000)
    expectExported(out)
    // Progress counts what this run received: expectedBytes and the byte events agree, the completion has the file size.
    const mine = events.filter((e) => "id" in e && e.id === rec.id)
    const started = mine.find((e) => e._tag === "ArtifactStarted")
    expect(started && started._tag === "ArtifactStarted" && started.expectedBytes).toBe(rec.bytes.length - 250_000)
    const received = mine.reduce((n, e) => n + (e._tag === "ArtifactBytes" ? e.bytes : 0), 0)
    expect(received).toBe(rec.bytes.length - 250_000)
    const completed = mine.find((e) => e._tag === "ArtifactCompleted")
    expect(completed && completed._tag === "ArtifactCompleted" && completed.bytes).toBe(rec.bytes.length)
    expect(summary.bytes).toBe(rec.bytes.length - 250_000)
    expect(summary.recordings.downloaded).toBe(1)
  })

  it("200 (the server ignores Range): the part is truncated and the recording written from byte 0", async () => {
    const out = tempOut()
    leavePart(out, 250_000)
    emu.setFaults({ ignoreRange: true })
    emu.resetCounters()
    await run(emu.baseUrl, emu.accessToken, { organizers: organizers(), ...WINDOW, out })
    const c = emu.counters()
    expect(c.contentRanges[rec.id]).toEqual(["bytes=250000-"])
    expect(c.contentBytesById[rec.id]).toBe(rec.bytes.length)
    expectExported(out)
  })

  it("a part whose meta names another artifact, or none, is dropped and the download starts without Range", async () => {
    for (const meta of [{ id: "someone-else" }, { kind: "transcript" }, null]) {
      const out = tempOut()
      leavePart(out, 250_000, meta ?? {})
      if (meta === null) fs.rmSync(path.join(stagingDir(out), `${Staging.stagingKey("recording", rec.id)}.json`))
      await syncAgain(out)
      expect(emu.counters().contentRanges[rec.id]).toBeUndefined()
      expect(emu.counters().contentBytesById[rec.id]).toBe(rec.bytes.length)
      expectExported(out)
    }
  })

  it("a part cut from content of another size is dropped after the 206 and the recording fetched whole", async () => {
    const out = tempOut()
    leavePart(out, 250_000, { size: rec.bytes.length + 1000 })
    await syncAgain(out)
    // The Range request was abandoned at its headers; the second request had no Range.
    expect(emu.counters().contentRanges[rec.id]).toEqual(["bytes=250000-"])
    expect(emu.counters().byStatus["206"]).toBe(1)
    expectExported(out)
  })

  it("a stored ETag that still matches: Range + If-Range, a 206 and only the rest served (size unknown: the validator suffices)", async () => {
    const out = tempOut()
    leavePart(out, 250_000, { size: null, etag })
    await syncAgain(out)
    const c = emu.counters()
    expect(c.contentRanges[rec.id]).toEqual(["bytes=250000-"])
    expect(c.byStatus["206"]).toBe(1)
    expect(c.contentBytesById[rec.id]).toBe(rec.bytes.length - 250_000)
    expectExported(out)
  })

  it("a stored ETag that no longer matches: If-Range makes the server send the whole body (200), written from byte 0", async () => {
    const out = tempOut()
    // A part of other content: its bytes differ, so appending to it would give a wrong file.
    leavePart(out, 250_000, { etag: "\"an-older-version\"" })
    const key = Staging.stagingKey("recording", rec.id)
    fs.writeFileSync(path.join(stagingDir(out), `${key}.part`), new Uint8Array(250_000).fill(7))
    await syncAgain(out)
    const c = emu.counters()
    // One request, with Range (and If-Range): answered 200 with the whole body, no 206 ever served.
    expect(c.contentRanges[rec.id]).toEqual(["bytes=250000-"])
    expect(c.byStatus["206"]).toBeUndefined()
    expect(c.contentBytesById[rec.id]).toBe(rec.bytes.length)
    expectExported(out)
  })

  it("a part whose meta knows neither the size nor a validator is not resumed: the download starts over without Range", async () => {
    const out = tempOut()
    leavePart(out, 250_000, { size: null })
    await syncAgain(out)
    expect(emu.counters().contentRanges[rec.id]).toBeUndefined()
    expect(emu.counters().contentBytesById[rec.id]).toBe(rec.bytes.length)
    expectExported(out)
  })

  it("a part that already holds the whole recording is finished without asking Graph", async () => {
    const out = tempOut()
    leavePart(out, rec.bytes.length)
    emu.setFaults({})
    emu.resetCounters()
    const { summary } = await run(emu.baseUrl, emu.accessToken, { organizers: organizers(), ...WINDOW, out })
    expect(emu.counters().contentBytesById[rec.id]).toBeUndefined()
    expect(emu.counters().byRoute["recordingContent"]).toBeUndefined()
    expect(summary.bytes).toBe(0)
    expect(summary.recordingMinutes).toBe(0)
    expectExported(out)
  })

  it("a complete part whose meta has no size (size: null) is finished with one 416, never downloaded again", async () => {
    const out = tempOut()
    leavePart(out, rec.bytes.length, { size: null, etag })
    await syncAgain(out)
    const c = emu.counters()
    // Range + If-Range at the end: 416 (Content-Range bytes */SIZE), and nothing else asked for.
    expect(c.contentRanges[rec.id]).toEqual([`bytes=${rec.bytes.length}-`])
    expect(c.byStatus["416"]).toBe(1)
    expect(c.byRoute["recordingContent"]).toBe(1)
    expect(c.contentBytesById[rec.id]).toBeUndefined()
    expectExported(out)
  })

  it("a download that fails for good keeps its part, and the next run resumes it", async () => {
    const out = tempOut()
    // Every body is cut half way (<= 256 KiB) and no resume is allowed: the item fails and is dead-lettered.
    emu.setFaults({
      rules: [{ fault: "reset", probability: 1, routes: ["recordingContent"] }],
      maxFaultsPerRequest: 100
    })
    emu.resetCounters()
    const failed = await run(emu.baseUrl, emu.accessToken, { organizers: organizers(), ...WINDOW, out }, {
      maxResumes: 0
    })
    expect(failed.summary.recordings.failed).toBe(1)
    const key = Staging.stagingKey("recording", rec.id)
    const kept = fs.statSync(path.join(stagingDir(out), `${key}.part`)).size
    expect(kept).toBeGreaterThan(0)
    expect(kept).toBeLessThan(rec.bytes.length)
    // The meta keeps the content's ETag for the If-Range of the next run.
    const meta = JSON.parse(fs.readFileSync(path.join(stagingDir(out), `${key}.json`), "utf8"))
    expect(meta).toMatchObject({ kind: "recording", id: rec.id, size: rec.bytes.length, etag })
    const servedBefore = emu.counters().contentBytesById[rec.id]!
    emu.setFaults({})
    await run(emu.baseUrl, emu.accessToken, { organizers: organizers(), ...WINDOW, out })
    const c = emu.counters()
    expect(c.contentRanges[rec.id]).toEqual([`bytes=${kept}-`])
    expect(c.contentBytesById[rec.id]! - servedBefore).toBe(rec.bytes.length - kept)
    expectExported(out)
  })
})

describe("staging sweep", () => {
  const write = (dir: string, name: string, data: string | Uint8Array = "x") =>
    fs.writeFileSync(path.join(dir, name), data)

  it("keeps resumable recording parts and .done files; drops other parts, old parts and orphaned meta", async () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ma-sweep-")), "staging")
    fs.mkdirSync(dir)
    const meta = (kind: string, id: string) => JSON.stringify({ kind, id, contentType: null, size: 100 })
    const fresh = Staging.stagingKey("recording", "r-fresh")
    const old = Staging.stagingKey("recording", "r-old")
    const transcript = Staging.stagingKey("transcript", "t")
    const noMeta = Staging.stagingKey("recording", "r-nometa")
    const done = Staging.stagingKey("recording", "r-done")
    const orphan = Staging.stagingKey("recording", "r-orphan")
    write(dir, `${fresh}.part`)
    write(dir, `${fresh}.json`, meta("recording", "r-fresh"))
    write(dir, `${old}.part`)
    write(dir, `${old}.json`, meta("recording", "r-old"))
    const eightDaysAgo = (Date.now() - 8 * 24 * 3600 * 1000) / 1000
    fs.utimesSync(path.join(dir, `${old}.part`), eightDaysAgo, eightDaysAgo)
    write(dir, `${transcript}.part`)
    write(dir, `${transcript}.json`, meta("transcript", "t"))
    write(dir, `${noMeta}.part`)
    write(dir, `${done}.done`)
    write(dir, `${done}.json`, meta("recording", "r-done"))
    write(dir, `${orphan}.json`, meta("recording", "r-orphan"))
    await Effect.runPromise(Staging.make(dir).sweep)
    expect(fs.readdirSync(dir).sort()).toEqual(
      [`${done}.done`, `${done}.json`, `${fresh}.json`, `${fresh}.part`].sort()
    )
  })
})

describe("staging meta and part lifetime", () => {
  const newDir = () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ma-staging-")), "staging")
    fs.mkdirSync(dir)
    return dir
  }
  const owner = { kind: "recording", id: "r-meta" }
  const key = Staging.stagingKey("recording", "r-meta")
  /** A body that delivers `n` bytes and is then cut (the part stays: recordings are resumable). */
  const cutAfter = (n: number) => Stream.concat(Stream.make(new Uint8Array(n).fill(1)), Stream.fail("cut" as const))
  const stageCut = (dir: string, offset: number, etag: string) =>
    Effect.runPromise(Effect.flip(
      Staging.make(dir).stage(key, owner, {
        stream: cutAfter(100),
        contentType: "video/mp4",
        offset,
        size: 1000,
        etag
      }, () => Effect.void)
    ))

  it("the meta is replaced only by a rename of a complete temp file, and left alone when a resume would not change it", async () => {
    const dir = newDir()
    const meta = path.join(dir, `${key}.json`)
    expect(await stageCut(dir, 0, "\"a\"")).toBe("cut")
    expect(fs.statSync(path.join(dir, `${key}.part`)).size).toBe(100)
    const first = fs.statSync(meta)
    expect(JSON.parse(fs.readFileSync(meta, "utf8"))).toMatchObject({
      kind: "recording",
      id: "r-meta",
      size: 1000,
      etag: "\"a\""
    })
    // A resume of the same content: the meta is not written at all (an old mtime survives).
    const longAgo = new Date(Date.now() - 3600_000)
    fs.utimesSync(meta, longAgo, longAgo)
    expect(await stageCut(dir, 100, "\"a\"")).toBe("cut")
    expect(fs.statSync(path.join(dir, `${key}.part`)).size).toBe(200)
    const resumed = fs.statSync(meta)
    expect(resumed.ino).toBe(first.ino)
    // (utimes stores seconds as a float: compare to the millisecond, an hour from a rewrite's mtime)
    expect(Math.abs(resumed.mtimeMs - longAgo.getTime())).toBeLessThan(1)
    // New facts: a new file takes the meta's name by rename (another inode; an in-place rewrite keeps it),
    // so a kill at any point leaves the old meta or the new one, never a truncated one.
    expect(await stageCut(dir, 0, "\"b\"")).toBe("cut")
    expect(fs.statSync(meta).ino).not.toBe(first.ino)
    expect(JSON.parse(fs.readFileSync(meta, "utf8"))).toMatchObject({ etag: "\"b\"" })
    expect(fs.readdirSync(dir).sort()).toEqual([`${key}.json`, `${key}.part`].sort())
  })

  it("a meta write that fails leaves the old meta whole (and the download fails with a StagingError)", async () => {
    const dir = newDir()
    const meta = path.join(dir, `${key}.json`)
    expect(await stageCut(dir, 0, "\"a\"")).toBe("cut")
    const before = fs.readFileSync(meta, "utf8")
    // The temp file's name is taken by a directory: writing it fails before the meta is touched.
    fs.mkdirSync(`${meta}.tmp`)
    const e = await stageCut(dir, 0, "\"b\"")
    expect(e).toBeInstanceOf(Staging.StagingError)
    expect(fs.readFileSync(meta, "utf8")).toBe(before)
    fs.rmdirSync(`${meta}.tmp`)
  })

  it("starting over: the old part is emptied before the new meta is renamed in, so an interrupted meta write never leaves old bytes under the new meta", async () => {
    const dir = newDir()
    const meta = path.join(dir, `${key}.json`)
    const part = path.join(dir, `${key}.part`)
    // What a run left: 100 bytes of version "a".
    fs.writeFileSync(part, new Uint8Array(100).fill(1))
    // The meta is a FIFO: the meta write blocks reading it until we write to it, which holds the stage
    // inside the meta write; it is interrupted there, and the write (a promise) goes on to its rename,
    // as it does when a run is stopped at that moment.
    execFileSync("mkfifo", [meta])
    const staging = Staging.make(dir)
    const fiber = Effect.runFork(staging.stage(key, owner, {
      stream: Stream.make(new Uint8Array(1000).fill(2)),
      contentType: "video/mp4",
      offset: 0,
      size: 1000,
      etag: "\"b\""
    }, () => Effect.void))
    // A non-blocking open for writing succeeds once the meta write has the FIFO open for reading (ENXIO
    // before): the meta write then waits for our bytes.
    let writer: number | undefined
    while (writer === undefined) {
      try {
        writer = fs.openSync(meta, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)
      } catch {
        await new Promise((r) => setTimeout(r, 5))
      }
    }
    await Effect.runPromise(Fiber.interrupt(fiber))
    fs.writeSync(writer, "{}")
    fs.closeSync(writer)
    while (!fs.statSync(meta).isFile()) await new Promise((r) => setTimeout(r, 5))
    expect(JSON.parse(fs.readFileSync(meta, "utf8"))).toMatchObject({ etag: "\"b\"" })
    // The meta names "b"; the part must not hold "a"'s bytes: it is empty, so nothing is resumed.
    expect(fs.existsSync(part) ? fs.statSync(part).size : 0).toBe(0)
    expect(await Effect.runPromise(staging.resumable(key, owner))).toBeNull()
  })

  it("a body of unknown size that ended records its size in the meta before the part becomes .done", async () => {
    const dir = newDir()
    const staging = Staging.make(dir)
    const staged = await Effect.runPromise(staging.stage(key, owner, {
      stream: Stream.make(new Uint8Array(300).fill(3), new Uint8Array(200).fill(4)),
      contentType: "video/mp4",
      size: null,
      etag: "\"a\""
    }, () => Effect.void))
    expect(staged.bytes).toBe(500)
    expect(JSON.parse(fs.readFileSync(path.join(dir, `${key}.json`), "utf8"))).toMatchObject({
      size: 500,
      etag: "\"a\""
    })
  })

  it("the sweep drops the temp file of a meta write a kill interrupted", async () => {
    const dir = newDir()
    fs.writeFileSync(path.join(dir, `${key}.json.tmp`), "{\"kind\":\"rec")
    await Effect.runPromise(Staging.make(dir).sweep)
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it("a part found by resumable() is touched, so the age sweep keeps the part of an artifact still asked for", async () => {
    const dir = newDir()
    fs.writeFileSync(path.join(dir, `${key}.part`), "x")
    fs.writeFileSync(path.join(dir, `${key}.json`), JSON.stringify({ ...owner, contentType: null, size: 100 }))
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000)
    fs.utimesSync(path.join(dir, `${key}.part`), eightDaysAgo, eightDaysAgo)
    const staging = Staging.make(dir)
    expect(await Effect.runPromise(staging.resumable(key, owner))).toEqual({
      bytes: 1,
      size: 100,
      etag: null,
      lastModified: null
    })
    await Effect.runPromise(staging.sweep)
    expect(fs.readdirSync(dir).sort()).toEqual([`${key}.json`, `${key}.part`].sort())
  })
})

describe("staging of a first run (no staging folder yet)", () => {
  it("the sweep's empty view is trusted (no look on disk per key), and remove takes only what stage left", async () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ma-first-")), "staging")
    const staging = Staging.make(dir)
    await Effect.runPromise(staging.sweep)
    const body = (text: string) => ({ stream: Stream.make(new TextEncoder().encode(text)), contentType: "text/vtt" })
    const tKey = Staging.stagingKey("transcript", "t1")
    const rKey = Staging.stagingKey("recording", "r1")
    await Effect.runPromise(staging.stage(tKey, { kind: "transcript", id: "t1" }, body("WEBVTT\n"), () => Effect.void))
    await Effect.runPromise(staging.stage(rKey, { kind: "recording", id: "r1" }, body("bytes"), () => Effect.void))
    expect(fs.readdirSync(dir).sort()).toEqual([`${rKey}.done`, `${rKey}.json`, `${tKey}.done`].sort())
    // A file that appeared under a key this run never staged is not what the sweep saw: not found.
    const stray = Staging.stagingKey("transcript", "stray")
    fs.writeFileSync(path.join(dir, `${stray}.done`), "x")
    expect(await Effect.runPromise(staging.find(stray))).toBeNull()
    fs.rmSync(path.join(dir, `${stray}.done`))
    // The transcript's .done stays with the pipeline (a sink that copied it); the recording's was adopted.
    fs.renameSync(path.join(dir, `${rKey}.done`), path.join(dir, "..", "adopted"))
    await Effect.runPromise(staging.remove(tKey))
    await Effect.runPromise(staging.remove(rKey, { moved: true }))
    expect(fs.readdirSync(dir)).toEqual([])
  })
})

describe("a part of an artifact whose content is refused for good", () => {
  it("404 on content: the part is dropped (a cut body keeps it, see above)", async () => {
    const fixture = generateTenant({
      organizers: 1,
      meetingsPerOrganizer: 1,
      seed: 12,
      mix: { recordingOnly: 1 },
      recordingBytes: 50_000
    }) as unknown as { meetings: Array<{ recordings: Array<Record<string, unknown>> }> }
    const r = fixture.meetings[0]!.recordings[0]!
    // Content never becomes available during this test: every content request is a 404.
    r["notReady"] = { requests: 1000 }
    const emu = await startEmulator({ fixture: fixture as never })
    try {
      const out = tempOut()
      const dir = path.join(out, ".meeting-artifacts", "staging")
      fs.mkdirSync(dir, { recursive: true })
      const id = r["id"] as string
      const key = Staging.stagingKey("recording", id)
      fs.writeFileSync(path.join(dir, `${key}.part`), new Uint8Array(1000))
      fs.writeFileSync(
        path.join(dir, `${key}.json`),
        JSON.stringify({ kind: "recording", id, contentType: null, size: 50_000 })
      )
      const { summary } = await run(emu.baseUrl, emu.accessToken, {
        organizers: emu.fixture.users.map((u) => u.id),
        ...WINDOW,
        out
      })
      expect(summary.recordings.failed).toBe(1)
      expect(emu.counters().byStatus["404"]).toBeGreaterThan(0)
      expect(fs.readdirSync(dir)).toEqual([])
    } finally {
      await emu.close()
    }
  })
})
