/**
 * The sync job as a library: against the emulator over loopback, with the
 * real sinks (files, manifest, SQLite checkpoint store) in temp directories.
 */
import {
  generatedBytes,
  generateTenant,
  type RunningEmulator,
  startEmulator,
  type TenantFixture
} from "@meeting-artifacts/graph-emulator"
import { type AdoptOptions, ContentSink, type ExpectedContent, Manifest } from "@meeting-artifacts/sinks"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Progress, type ProgressEvent, type RunSummary, sync, SyncFatalError, syncLayer } from "../src/index.js"
import { stagingKey } from "../src/internal/staging.js"
import { readManifest, runSync, sha256, tempOut, WINDOW } from "./support.js"

const run = runSync
const manifest = readManifest

const minutes = (a: { createdDateTime: string; endDateTime?: string | null | undefined }) =>
  a.endDateTime ? Math.floor((Date.parse(a.endDateTime) - Date.parse(a.createdDateTime)) / 60_000) : 0

describe("sync", () => {
  let emu: RunningEmulator
  let fixture: TenantFixture
  let recordings: Array<{ id: string; bytes: Uint8Array; minutes: number; meetingId: string }>
  let transcripts: Array<{ id: string; text: string; minutes: number; meetingId: string }>
  beforeAll(async () => {
    emu = await startEmulator({
      generate: { organizers: 2, meetingsPerOrganizer: 3, seed: 5, recordingBytes: [2048, 40_000], cues: [2, 6] },
      pageSize: 3
    })
    fixture = emu.fixture
    recordings = fixture.meetings.flatMap((m) =>
      (m.recordings ?? []).map((r) => ({
        id: r.id,
        bytes: generatedBytes((r.content as { seed: number }).seed, (r.content as { bytes: number }).bytes),
        minutes: minutes(r),
        meetingId: m.id
      }))
    )
    transcripts = fixture.meetings.flatMap((m) =>
      (m.transcripts ?? []).map((t) => ({
        id: t.id,
        text: (t.content as { text: string }).text,
        minutes: minutes(t),
        meetingId: m.id
      }))
    )
  })
  afterAll(() => emu?.close())

  const organizers = () => fixture.users.map((u) => u.id)

  let first: { out: string; summary: RunSummary; events: Array<ProgressEvent> }

  it("exports a window: files, manifest, typed progress events and a summary with metered cost", async () => {
    emu.resetCounters()
    const out = tempOut()
    const { events, summary } = await run(emu.baseUrl, emu.accessToken, { organizers: organizers(), ...WINDOW, out })
    first = { out, summary, events }
    expect(summary.failures).toBe(0)
    expect(summary.recordings).toEqual({
      discovered: recordings.length,
      downloaded: recordings.length,
      skipped: 0,
      failed: 0
    })
    expect(summary.transcripts).toEqual({
      discovered: transcripts.length,
      downloaded: transcripts.length,
      skipped: 0,
      failed: 0
    })
    const bytes = recordings.reduce((n, r) => n + r.bytes.length, 0) +
      transcripts.reduce((n, t) => n + Buffer.byteLength(t.text), 0)
    expect(summary.bytes).toBe(bytes)
    const rm = recordings.reduce((n, r) => n + r.minutes, 0)
    const tm = transcripts.reduce((n, t) => n + t.minutes, 0)
    expect(summary.recordingMinutes).toBe(rm)
    expect(summary.transcriptMinutes).toBe(tm)
    expect(summary.cost.total).toBeCloseTo(rm * 0.003 + tm * 0.0022, 6)
    expect(summary.requests).toBeGreaterThan(0)

    const lines = manifest(out)
    const byId = new Map<string, { path: string; bytes: number; sha256: string; cues?: number }>()
    for (const l of lines) {
      if (l.recording) byId.set(l.recording.id, l.recording)
      if (l.transcript) byId.set(l.transcript.id, l.transcript)
    }
    expect(byId.size).toBe(recordings.length + transcripts.length)
    for (const r of recordings) {
      const e = byId.get(r.id)!
      expect(sha256(fs.readFileSync(path.join(out, e.path)))).toBe(sha256(r.bytes))
      expect(e.bytes).toBe(r.bytes.length)
    }
    for (const t of transcripts) {
      const e = byId.get(t.id)!
      expect(fs.readFileSync(path.join(out, e.path), "utf8")).toBe(t.text)
      expect(e.cues).toBe(t.text.split("-->").length - 1)
    }

    expect(events[0]!._tag).toBe("RunStarted")
    expect(events.at(-1)).toMatchObject({ _tag: "RunFinished", summary })
    expect(events.filter((e) => e._tag === "Discovered")).toHaveLength(2)
    expect(events.filter((e) => e._tag === "ArtifactCompleted")).toHaveLength(recordings.length + transcripts.length)
    expect(events.filter((e) => e._tag === "SetWritten")).toHaveLength(lines.length)
    const streamed = events.filter((e): e is Extract<ProgressEvent, { _tag: "ArtifactBytes" }> =>
      e._tag === "ArtifactBytes"
    )
    expect(streamed.reduce((n, e) => n + e.bytes, 0)).toBe(bytes)
  })

  it("a second run downloads nothing and leaves the manifest as it was", async () => {
    const before = fs.readFileSync(path.join(first.out, "manifest.jsonl"), "utf8")
    emu.resetCounters()
    const { summary } = await run(emu.baseUrl, emu.accessToken, { organizers: organizers(), ...WINDOW, out: first.out })
    expect(emu.counters().contentRequests).toEqual({})
    expect(summary.recordings.skipped + summary.transcripts.skipped).toBe(recordings.length + transcripts.length)
    expect(summary.cost.total).toBe(0)
    expect(fs.readFileSync(path.join(first.out, "manifest.jsonl"), "utf8")).toBe(before)
  })

  it("content whose file no longer matches its checkpoint is fetched again", async () => {
    const line = manifest(first.out).find((l) => l.recording !== null)
    const file = path.join(first.out, line.recording.path)
    fs.writeFileSync(file, "corrupted")
    emu.resetCounters()
    const { summary } = await run(emu.baseUrl, emu.accessToken, { organizers: organizers(), ...WINDOW, out: first.out })
    expect(emu.counters().contentRequests).toEqual({ [line.recording.id]: 1 })
    expect(summary.recordings.downloaded).toBe(1)
    expect(sha256(fs.readFileSync(file))).toBe(line.recording.sha256)
  })

  /** What a run killed after a recording's body ended leaves in staging: `<key>.done` and its meta. */
  const leaveDone = (out: string, r: { id: string; bytes: Uint8Array }, meta: Record<string, unknown>) => {
    const staging = path.join(out, ".meeting-artifacts", "staging")
    fs.mkdirSync(staging, { recursive: true })
    const key = stagingKey("recording", r.id)
    fs.writeFileSync(path.join(staging, `${key}.json`), JSON.stringify(meta))
    fs.writeFileSync(path.join(staging, `${key}.done`), r.bytes)
    return { staging, done: path.join(staging, `${key}.done`) }
  }

  it("a download that fully arrived before a kill is finished from staging, not fetched again", async () => {
    const out = tempOut()
    const r = recordings[0]!
    const { staging } = leaveDone(out, r, { contentType: "video/mp4" })
    // A half-written body of another artifact is discarded.
    fs.writeFileSync(path.join(staging, `${stagingKey("recording", recordings[1]!.id)}.part`), r.bytes.subarray(0, 100))
    emu.resetCounters()
    const { summary } = await run(emu.baseUrl, emu.accessToken, { organizers: organizers(), ...WINDOW, out })
    const counts = emu.counters().contentRequests
    expect(counts[r.id]).toBeUndefined()
    expect(counts[recordings[1]!.id]).toBe(1)
    expect(summary.recordings.downloaded).toBe(recordings.length - 1)
    const line = manifest(out).find((l) => l.recording?.id === r.id)
    expect(line.recording.sha256).toBe(sha256(r.bytes))
    expect(fs.readdirSync(staging)).toEqual([])
  })

  it("a staged download is moved into place by a rename (the same inode: no copy), its hash taken from the meta", async () => {
    const out = tempOut()
    const r = recordings[0]!
    const { done, staging } = leaveDone(out, r, {
      kind: "recording",
      id: r.id,
      contentType: "video/mp4",
      size: r.bytes.length,
      sha256: sha256(r.bytes)
    })
    const inode = fs.statSync(done).ino
    emu.resetCounters()
    await run(emu.baseUrl, emu.accessToken, { organizers: organizers(), ...WINDOW, out })
    expect(emu.counters().contentRequests[r.id]).toBeUndefined()
    const line = manifest(out).find((l) => l.recording?.id === r.id)
    expect(line.recording.sha256).toBe(sha256(r.bytes))
    expect(fs.statSync(path.join(out, line.recording.path)).ino).toBe(inode)
    expect(fs.readdirSync(staging)).toEqual([])
  })

  it("killed after the checkpoint commit but before the rename: the next run moves the staged file in, no download", async () => {
    const out = tempOut()
    await run(emu.baseUrl, emu.accessToken, { organizers: organizers(), ...WINDOW, out })
    const r = recordings[0]!
    const line = manifest(out).find((l) => l.recording?.id === r.id)
    // what such a kill leaves: the checkpoint says completed, the file is still staging's `.done`
    const staging = path.join(out, ".meeting-artifacts", "staging")
    const key = stagingKey("recording", r.id)
    fs.renameSync(path.join(out, line.recording.path), path.join(staging, `${key}.done`))
    fs.writeFileSync(
      path.join(staging, `${key}.json`),
      JSON.stringify({
        kind: "recording",
        id: r.id,
        contentType: "video/mp4",
        size: r.bytes.length,
        sha256: sha256(r.bytes)
      })
    )
    emu.resetCounters()
    const { summary } = await run(emu.baseUrl, emu.accessToken, { organizers: organizers(), ...WINDOW, out })
    expect(emu.counters().contentRequests).toEqual({})
    expect(summary.cost.total).toBe(0)
    expect(sha256(fs.readFileSync(path.join(out, line.recording.path)))).toBe(sha256(r.bytes))
    expect(fs.readdirSync(staging)).toEqual([])
  })

  type SyncLog = Array<
    | { readonly op: "adopted"; readonly path: string; readonly synced: boolean }
    | { readonly op: "syncStart" | "syncEnd"; readonly paths: ReadonlyArray<string> }
    | { readonly op: "line"; readonly paths: ReadonlyArray<string> }
  >

  /**
   * A sync of `out` with the file system sink and the manifest wrapped to log the order of what they are
   * asked (whether an fsync reached the disk cannot be seen without cutting the power; the order of the
   * calls can).
   */
  const loggedSync = async (out: string): Promise<SyncLog> => {
    const log: SyncLog = []
    const logged = Layer.effect(
      ContentSink,
      Effect.map(ContentSink, (c) => ({
        ...c,
        adopt: (p: string, file: string, expected: ExpectedContent, options?: AdoptOptions) =>
          c.adopt!(p, file, expected, options).pipe(
            Effect.tap(() => log.push({ op: "adopted", path: p, synced: options?.syncFolder !== false }))
          ),
        syncFolders: (paths: ReadonlyArray<string>) =>
          Effect.sync(() => log.push({ op: "syncStart", paths })).pipe(
            Effect.zipRight(c.syncFolders!(paths)),
            Effect.tap(() => log.push({ op: "syncEnd", paths }))
          )
      }))
    ).pipe(
      Layer.merge(Layer.effect(
        Manifest.Manifest,
        Effect.map(Manifest.Manifest, (m) => ({
          ...m,
          upsert: (entries: Manifest.ManifestEntry | ReadonlyArray<Manifest.ManifestEntry>) =>
            Effect.suspend(() => {
              for (const e of Array.isArray(entries) ? entries : [entries]) {
                log.push({ op: "line", paths: [e.recording?.path, e.transcript?.path].filter((x) => x != null) })
              }
              return m.upsert(entries)
            })
        }))
      ))
    )
    await Effect.runPromise(
      sync({ organizers: organizers(), ...WINDOW, out }).pipe(
        Effect.scoped,
        Effect.provide(Progress.layer),
        Effect.provide(Layer.provideMerge(
          logged,
          syncLayer({ out, graph: { baseUrl: emu.baseUrl, credential: Redacted.make(emu.accessToken) } })
        ))
      )
    )
    return log
  }

  const folderOf = (p: string) => path.posix.dirname(p)

  /** Where in `log`, after `from`, an fsync of `file`'s folder started and ended; -1 when none did. */
  const folderSync = (log: SyncLog, file: string, from: number) => {
    const start = log.findIndex((e, i) =>
      i > from && e.op === "syncStart" && e.paths.some((q) => folderOf(q) === folderOf(file))
    )
    const end = start < 0 ?
      -1 :
      log.findIndex((e, i) => i > start && e.op === "syncEnd" && e.paths === (log[start] as { paths: unknown }).paths)
    return { start, end }
  }

  it("a set's files are durable before its manifest line: each renamed file's folder is fsynced after its rename", async () => {
    const out = tempOut()
    const log = await loggedSync(out)
    const lines = log.filter((e) => e.op === "line")
    expect(lines.flatMap((l) => l.paths).length).toBe(recordings.length + transcripts.length)
    for (const [at, entry] of log.entries()) {
      if (entry.op !== "line") continue
      for (const p of entry.paths) {
        const adopted = log.findIndex((e) => e.op === "adopted" && e.path === p)
        expect(adopted).toBeGreaterThanOrEqual(0)
        expect(adopted).toBeLessThan(at)
        const a = log[adopted] as { synced: boolean }
        if (a.synced) continue
        // an fsync of its folder that started after the rename and ended before the line
        const { end, start } = folderSync(log, p, adopted)
        expect(start).toBeGreaterThan(adopted)
        expect(end).toBeGreaterThan(start)
        expect(end).toBeLessThan(at)
      }
    }
    // the point of leaving the fsync to the set: its recording and transcript share one
    expect(log.some((e) => e.op === "syncStart" && new Set(e.paths.map(folderOf)).size < e.paths.length)).toBe(true)
  })

  it("files an earlier run placed have their folders fsynced before a new line names them, and not for lines already there", async () => {
    // What a kill between a set's renames and its folder fsync leaves: checkpoint rows and files in place,
    // no manifest line. (Which folders an fsync missed cannot be told afterwards: the next run syncs all it names.)
    const out = tempOut()
    await run(emu.baseUrl, emu.accessToken, { organizers: organizers(), ...WINDOW, out })
    fs.rmSync(path.join(out, Manifest.MANIFEST_FILE))
    fs.rmSync(Manifest.journalPath(out), { force: true })
    emu.resetCounters()
    const again = await loggedSync(out)
    expect(emu.counters().contentRequests).toEqual({})
    expect(again.some((e) => e.op === "adopted")).toBe(false)
    const lines = again.filter((e) => e.op === "line")
    expect(lines.flatMap((l) => l.paths).length).toBe(recordings.length + transcripts.length)
    for (const [at, entry] of again.entries()) {
      if (entry.op !== "line") continue
      for (const p of entry.paths) {
        const { end, start } = folderSync(again, p, -1)
        expect(start).toBeGreaterThanOrEqual(0)
        expect(end).toBeGreaterThan(start)
        expect(end).toBeLessThan(at)
      }
    }
    // every line is there now: a run that changes none syncs no folder
    const third = await loggedSync(out)
    expect(third.filter((e) => e.op === "line").length).toBe(lines.length)
    expect(third.filter((e) => e.op === "syncStart")).toEqual([])
  })

  it("a dry run fetches no content, writes nothing, and prices what it would fetch", async () => {
    const out = tempOut()
    emu.resetCounters()
    const { summary } = await run(emu.baseUrl, emu.accessToken, {
      organizers: organizers(),
      ...WINDOW,
      out,
      dryRun: true
    })
    expect(emu.counters().contentRequests).toEqual({})
    expect(fs.existsSync(out)).toBe(false)
    expect(summary.dryRun).toBe(true)
    expect(summary.recordingMinutes).toBe(first.summary.recordingMinutes)
    expect(summary.transcriptMinutes).toBe(first.summary.transcriptMinutes)
    expect(summary.cost).toEqual(first.summary.cost)
  })

  it("--meeting and --join-url export only those meetings; an unknown one is a failure of its own", async () => {
    const out = tempOut()
    const withContent = fixture.meetings.filter((m) => (m.recordings ?? []).length + (m.transcripts ?? []).length > 0)
    const [byId, byUrl] = [withContent[0]!, withContent.at(-1)!]
    emu.resetCounters()
    const { summary } = await run(emu.baseUrl, emu.accessToken, {
      organizers: organizers(),
      out,
      meetingIds: [byId.id, "no-such-meeting"],
      joinUrls: [byUrl.joinWebUrl!]
    })
    expect(new Set(manifest(out).map((l) => l.meetingId))).toEqual(new Set([byId.id, byUrl.id]))
    expect(summary.failures).toBe(1)
    const failures = fs.readFileSync(path.join(out, "failures.jsonl"), "utf8").trim().split("\n").map((l) =>
      JSON.parse(l)
    )
    expect(failures).toMatchObject([{ kind: "meeting", id: "no-such-meeting" }])
  })
})

describe("sync: a listed item that does not decode", () => {
  let emu: RunningEmulator
  let badId: string
  let others: Array<string>
  beforeAll(async () => {
    const fixture = generateTenant({
      organizers: 1,
      meetingsPerOrganizer: 6,
      seed: 11,
      recordingBytes: [1024, 4096],
      cues: [2, 3]
    })
    const all = fixture.meetings.flatMap((m) => (m.recordings ?? []).map((r) => r.id))
    badId = all[1]!
    others = all.filter((id) => id !== badId)
    // Graph sends a number where a timestamp belongs, for one recording only.
    const meetings = fixture.meetings.map((m) => ({
      ...m,
      recordings: (m.recordings ?? []).map((
        r
      ) => (r.id === badId ? { ...r, extra: { createdDateTime: 1705395601 } } : r))
    }))
    emu = await startEmulator({ fixture: { ...fixture, meetings }, pageSize: 2 })
  })
  afterAll(() => emu?.close())

  it.each([false, true])(
    "is dead-lettered alone; every other artifact is exported (incremental: %s)",
    async (incremental) => {
      const out = tempOut()
      const { summary } = await run(emu.baseUrl, emu.accessToken, {
        organizers: emu.fixture.users.map((u) => u.id),
        ...WINDOW,
        out,
        incremental
      })
      expect(summary.failures).toBe(1)
      expect(summary.recordings.failed).toBe(1)
      expect(summary.recordings.downloaded).toBe(others.length)
      const failures = fs.readFileSync(path.join(out, "failures.jsonl"), "utf8").trim().split("\n").map((l) =>
        JSON.parse(l)
      )
      expect(failures).toMatchObject([{ kind: "recording", id: badId }])
      expect(failures[0].reason).toContain("createdDateTime")
      const exported = manifest(out).flatMap((l) => (l.recording ? [l.recording.id] : []))
      expect(exported.sort()).toEqual([...others].sort())
    }
  )

  it("incremental: once Graph serves it correctly, the next run fetches it by id (delta will not list it again)", async () => {
    const out = tempOut()
    const options = { organizers: emu.fixture.users.map((u) => u.id), ...WINDOW, out, incremental: true }
    const first = await run(emu.baseUrl, emu.accessToken, options)
    expect(first.summary.recordings.failed).toBe(1)
    emu.setArtifactExtra(badId, undefined)
    try {
      emu.resetCounters()
      const second = await run(emu.baseUrl, emu.accessToken, options)
      expect(second.summary.failures).toBe(0)
      expect(second.summary.recordings.downloaded).toBe(1)
      expect(emu.counters().byRoute["recording"]).toBe(1)
      expect(manifest(out).flatMap((l) => (l.recording ? [l.recording.id] : [])).sort()).toEqual(
        [...others, badId].sort()
      )
      expect(fs.existsSync(path.join(out, "failures.jsonl"))).toBe(false)
    } finally {
      emu.setArtifactExtra(badId, { createdDateTime: 1705395601 })
    }
  })
})

describe("sync: fatal errors", () => {
  const server = (status: number, body: object) =>
    new Promise<{ url: string; close: () => void }>((resolve) => {
      const s = http.createServer((_q, res) => {
        res.writeHead(status, { "content-type": "application/json", "request-id": "rid-123" })
        res.end(JSON.stringify(body))
      })
      s.listen(0, "127.0.0.1", () =>
        resolve({
          url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1.0`,
          close: () => s.close()
        }))
    })

  it("403 without an application access policy stops the run with the admin's fix", async () => {
    const s = await server(403, {
      error: {
        code: "Forbidden",
        message: "No application access policy found for this app.",
        innerError: { "request-id": "rid-123" }
      }
    })
    try {
      const out = tempOut()
      const fatal = await Effect.runPromise(
        sync({ organizers: ["u1"], ...WINDOW, out }).pipe(
          Effect.flip,
          Effect.provide(syncLayer({ out, graph: { baseUrl: s.url, credential: Redacted.make("token") } }))
        )
      )
      expect(fatal).toBeInstanceOf(SyncFatalError)
      expect(fatal).toMatchObject({ requestId: "rid-123", status: 403 })
      expect((fatal as SyncFatalError).oneLine).toContain("Grant-CsApplicationAccessPolicy")
    } finally {
      s.close()
    }
  })
})
