import { describe, expect, inject, it } from "@effect/vitest"
import * as crypto from "node:crypto"
import * as http from "node:http"
import * as path from "node:path"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import * as fc from "fast-check"
import { ArtifactSet } from "@meeting-artifacts/correlate"
import { AzureBlobSink, FileSystemSink, Layout, makeRecordSink } from "../src/index.js"
import { runAndKill } from "./support/child.js"
import { cues, makeSet, tempDir } from "./support/data.js"

const containerName = () => `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`

const open = (options: Partial<AzureBlobSink.AzureBlobOptions> = {}) =>
  AzureBlobSink.make({ container: containerName(), connectionString: inject("azuriteConnectionString"), ...options })

const listNames = (sink: AzureBlobSink.AzureBlobSinkService) =>
  Effect.promise(async () => {
    const names: Array<string> = []
    for await (const b of sink.containerClient.listBlobsFlat()) names.push(b.name)
    return names.sort()
  })

const download = (sink: AzureBlobSink.AzureBlobSinkService, name: string) =>
  Effect.promise(() => sink.containerClient.getBlockBlobClient(name).downloadToBuffer())

const randomBytes = (n: number) => new Uint8Array(crypto.randomBytes(n))
const chunked = (b: Uint8Array, size: number) =>
  Stream.fromChunk(
    Chunk.unsafeFromArray(
      Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size))
    )
  )
const sha = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex")

/** A loopback HTTP proxy to Azurite; set `refuseSetUploads` to answer 403 to every PUT of a set blob. */
const refusingProxy = (azurite: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const target = new URL(/BlobEndpoint=([^;]+)/.exec(azurite)![1]!)
      const state = { refuseSetUploads: false, connectionString: "" }
      const server = http.createServer((req, res) => {
        if (state.refuseSetUploads && req.method === "PUT" && (req.url ?? "").includes("/set-")) {
          req.resume()
          res.writeHead(403, { "content-type": "application/xml", "x-ms-error-code": "AuthorizationFailure" })
          res.end("<?xml version=\"1.0\"?><Error><Code>AuthorizationFailure</Code><Message>refused</Message></Error>")
          return
        }
        const upstream = http.request(
          { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
          (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers)
            up.pipe(res)
          }
        )
        upstream.on("error", () => res.destroy())
        req.pipe(upstream)
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      const port = (server.address() as { port: number }).port
      state.connectionString = azurite.replace(/BlobEndpoint=http:\/\/[^/;]+/, `BlobEndpoint=http://127.0.0.1:${port}`)
      return Object.assign(state, { server })
    }),
    (p) => Effect.promise(() => new Promise<void>((resolve) => p.server.close(() => resolve())))
  )

describe("AzureBlobSink (Azurite)", () => {
  it.scoped("streams content as blocks and records size and sha256", () =>
    Effect.gen(function*() {
      const sink = yield* open({ blockSize: 256 * 1024, prefix: "raw/" })
      const data = randomBytes(1_000_003)
      const w = yield* sink.content.write("o/m/recording-x.mp4", chunked(data, 70_001), { contentType: "video/mp4" })
      expect(w).toEqual({ path: "o/m/recording-x.mp4", bytes: data.length, sha256: sha(data) })
      expect(sha(yield* download(sink, "raw/o/m/recording-x.mp4"))).toBe(sha(data))
      const blocks = yield* Effect.promise(() =>
        sink.containerClient.getBlockBlobClient("raw/o/m/recording-x.mp4").getBlockList("committed")
      )
      expect(blocks.committedBlocks!.length).toBe(4)
      expect(yield* sink.content.isComplete(w.path, w)).toBe(true)
      expect(yield* sink.content.isComplete(w.path, { ...w, sha256: sha(randomBytes(3)) })).toBe(false)
      expect(yield* sink.content.stat("o/m/none.mp4")).toBeNull()
      const props = yield* Effect.promise(() =>
        sink.containerClient.getBlockBlobClient("raw/o/m/recording-x.mp4").getProperties()
      )
      expect(props.contentType).toBe("video/mp4")
      // empty content is an empty blob
      const e = yield* sink.content.write("o/m/empty.vtt", Stream.empty)
      expect(e.bytes).toBe(0)
    }))

  it.scoped("a failing stream never replaces the committed blob", () =>
    Effect.gen(function*() {
      const sink = yield* open({ blockSize: 64 * 1024 })
      const old = randomBytes(100_000)
      yield* sink.content.write("a/b.mp4", chunked(old, 10_000))
      const failing = Stream.concat(chunked(randomBytes(300_000), 10_000), Stream.fail("reset" as const))
      const exit = yield* Effect.exit(sink.content.write("a/b.mp4", failing))
      expect(exit).toEqual(Exit.fail("reset"))
      expect(sha(yield* download(sink, "a/b.mp4"))).toBe(sha(old))
      expect(yield* listNames(sink)).toEqual(["a/b.mp4"])
    }))

  it.scoped("block buffers reused across failed, concurrent and sequential uploads never mix contents", () =>
    Effect.gen(function*() {
      const sink = yield* open({ blockSize: 64 * 1024, concurrency: 2 })
      // a failed upload returns its buffers to the sink's spare pool
      const failing = Stream.concat(chunked(randomBytes(500_000), 9_999), Stream.fail("reset" as const))
      expect(yield* Effect.exit(sink.content.write("x/failed.mp4", failing))).toEqual(Exit.fail("reset"))
      const datas = Array.from({ length: 4 }, (_, i) => randomBytes(400_000 + i * 77_777))
      // concurrent uploads (more buffers than one pool), then sequential ones reusing the spares
      const concurrent = yield* Effect.forEach(
        datas,
        (d, i) => sink.content.write(`x/c${i}.mp4`, chunked(d, 10_007 + i)),
        { concurrency: "unbounded" }
      )
      const sequential = yield* Effect.forEach(datas, (d, i) => sink.content.write(`x/s${i}.mp4`, chunked(d, 65_536)))
      for (const [i, d] of datas.entries()) {
        expect(concurrent[i]!.sha256).toBe(sha(d))
        expect(sequential[i]!.sha256).toBe(sha(d))
        expect(sha(yield* download(sink, `x/c${i}.mp4`))).toBe(sha(d))
        expect(sha(yield* download(sink, `x/s${i}.mp4`))).toBe(sha(d))
      }
      expect((yield* listNames(sink)).includes("x/failed.mp4")).toBe(false)
    }))

  it.scoped("writing the same set twice leaves one blob each and does not re-upload", () =>
    Effect.gen(function*() {
      const sink = yield* open({ blockSize: 16 * 1024 })
      const out = tempDir()
      const set = makeSet("meeting/1", "rec+/=", "tr..")
      const rp = Layout.recordingPath(set.organizerId, set.meetingId, set.recording!.id, "video/mp4")
      const tp = Layout.transcriptPath(set.organizerId, set.meetingId, set.transcript!.id)
      const rf = yield* FileSystemSink.writeContent(out, rp, chunked(randomBytes(50_000), 4096))
      const tf = yield* FileSystemSink.writeContent(out, tp, Stream.make(new TextEncoder().encode("WEBVTT\n\n")))
      const write = {
        set,
        recording: { ...rf, contentType: "video/mp4" },
        transcript: { ...tf, contentType: "text/vtt" },
        cues: cues(4),
        root: out
      }
      yield* sink.writeSet(write)
      const first = yield* listNames(sink)
      const etags = yield* Effect.promise(() =>
        Promise.all(first.map((n) => sink.containerClient.getBlockBlobClient(n).getProperties().then((p) => p.etag)))
      )
      yield* sink.writeSet(write)
      const second = yield* listNames(sink)
      expect(second).toEqual(first)
      const etags2 = yield* Effect.promise(() =>
        Promise.all(second.map((n) => sink.containerClient.getBlockBlobClient(n).getProperties().then((p) => p.etag)))
      )
      expect(etags2).toEqual(etags)
      expect(first.filter((n) => n.includes("/set-"))).toHaveLength(1)
      expect(first).toContain(rp)
      expect(first).toContain(tp)
      expect(sha(yield* download(sink, rp))).toBe(rf.sha256)
      const setBlob = JSON.parse((yield* download(sink, first.find((n) => n.includes("/set-"))!)).toString())
      expect(setBlob).toMatchObject({
        meetingId: "meeting/1",
        recordingId: "rec+/=",
        transcriptId: "tr..",
        match: "contentCorrelationId"
      })
      const cueBlob = JSON.parse((yield* download(sink, first.find((n) => n.endsWith(".cues.json"))!)).toString())
      expect(cueBlob).toHaveLength(4)
    }))

  it.scoped("re-pairing keeps each artifact in exactly one set blob", () =>
    Effect.gen(function*() {
      const sink = yield* open()
      const w = (r: string | null, t: string | null) => ({
        set: makeSet("m1", r, t),
        recording: null,
        transcript: null,
        cues: []
      })
      const setsOf = Effect.gen(function*() {
        const names = (yield* listNames(sink)).filter((n) => n.includes("/set-"))
        return yield* Effect.forEach(names, (n) => Effect.map(download(sink, n), (b) => JSON.parse(b.toString())))
      })
      yield* sink.writeSet(w("r1", null))
      yield* sink.writeSet(w(null, "t1"))
      yield* sink.writeSet(w("r1", "t1"))
      let sets = yield* setsOf
      expect(sets.map((s: any) => [s.recordingId, s.transcriptId])).toEqual([["r1", "t1"]])
      yield* sink.writeSet(w("r1", "t2"))
      sets = yield* setsOf
      expect(sets.map((s: any) => [s.recordingId, s.transcriptId]).sort()).toEqual([["r1", "t2"], [null, "t1"]].sort())
    }))

  it.scoped("a re-pairing cut off before its new set blob is written leaves the old set in place", () =>
    Effect.gen(function*() {
      // A real loopback proxy in front of Azurite that refuses set-blob uploads once told to: the write
      // fails where a kill could land, and nothing of the old pairing may be gone.
      const proxy = yield* refusingProxy(inject("azuriteConnectionString"))
      const sink = yield* AzureBlobSink.make({ container: containerName(), connectionString: proxy.connectionString })
      const w = (r: string | null, t: string | null) => ({
        set: makeSet("m1", r, t),
        recording: null,
        transcript: null,
        cues: []
      })
      // A transcript alone first; its recording arrives later and the pair gets a set blob of another name.
      yield* sink.writeSet(w(null, "t1"))
      proxy.refuseSetUploads = true
      expect(Exit.isFailure(yield* Effect.exit(sink.writeSet(w("r1", "t1"))))).toBe(true)
      const names = (yield* listNames(sink)).filter((n) => n.includes("/set-"))
      const sets = yield* Effect.forEach(names, (n) => Effect.map(download(sink, n), (b) => JSON.parse(b.toString())))
      expect(sets.map((s: any) => [s.recordingId, s.transcriptId])).toEqual([[null, "t1"]])
      proxy.refuseSetUploads = false
      yield* sink.writeSet(w("r1", "t1"))
      const after = (yield* listNames(sink)).filter((n) => n.includes("/set-"))
      const pairs = yield* Effect.forEach(after, (n) => Effect.map(download(sink, n), (b) => JSON.parse(b.toString())))
      expect(pairs.map((s: any) => [s.recordingId, s.transcriptId])).toEqual([["r1", "t1"]])
    }))

  it.scoped("the documents of an ad hoc call's set carry source after meetingId; a meeting's carry none", () =>
    Effect.gen(function*() {
      const sink = yield* open()
      const w = (set: ArtifactSet) => ({ set, recording: null, transcript: null, cues: [] })
      yield* sink.writeSet(w(makeSet("m1", "r1", "t1")))
      yield* sink.writeSet(w(new ArtifactSet({ ...makeSet("call-1", "r2", "t2"), source: "adhocCall" })))
      const docs = yield* Effect.forEach(
        (yield* listNames(sink)).filter((n) => n.endsWith(".json") && !n.endsWith(".cues.json")),
        (n) => Effect.map(download(sink, n), (b) => JSON.parse(b.toString()))
      )
      expect(docs).toHaveLength(6)
      for (const doc of docs) {
        const keys = Object.keys(doc)
        if (doc.meetingId === "call-1") expect(keys.indexOf("source")).toBe(keys.indexOf("meetingId") + 1)
        else expect(Object.keys(doc)).not.toContain("source")
      }
      expect(docs.filter((d: any) => d.source === "adhocCall")).toHaveLength(3)
    }))

  it.scoped("azure-blob: specs use AZURE_STORAGE_CONNECTION_STRING", () =>
    Effect.gen(function*() {
      const before = process.env.AZURE_STORAGE_CONNECTION_STRING
      process.env.AZURE_STORAGE_CONNECTION_STRING = inject("azuriteConnectionString")
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          if (before === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING
          else process.env.AZURE_STORAGE_CONNECTION_STRING = before
        })
      )
      const container = containerName()
      const sink = yield* makeRecordSink({ _tag: "azure-blob", container, prefix: "p/", disposition: "merge" })
      yield* sink.writeRun({
        runId: "run/1",
        windowFrom: "a",
        windowTo: "b",
        organizers: [],
        startedAt: "s",
        endedAt: null,
        status: "running",
        counts: {}
      })
      expect(sink.name).toBe(`azure-blob:${container}/p`)
    }))

  it.live("a writer killed (SIGKILL) mid-upload leaves the old blob", () =>
    Effect.gen(function*() {
      const sink = yield* open()
      const old = new Uint8Array(65536 * 3).fill(1)
      yield* sink.content.write("k/blob.mp4", Stream.make(old))
      const env = { AZURE_STORAGE_CONNECTION_STRING: inject("azuriteConnectionString") }
      const r = yield* Effect.promise(() =>
        runAndKill(["blob", sink.containerClient.containerName, "k/blob.mp4", "60", "2"], 100, env)
      )
      expect(r.finished).toBe(false)
      const now = yield* download(sink, "k/blob.mp4")
      expect(sha(now)).toBe(sha(old))
      expect(yield* listNames(sink)).toEqual(["k/blob.mp4"])
    }).pipe(Effect.scoped), 60_000)

  it("hostile ids never escape the prefix and distinct ids give distinct blob names", () => {
    const hostile = fc.oneof(
      fc.constantFrom("../x", "a/b", "+/=", "x".repeat(300), "é🎉", "", "\0", "CON", "..", "."),
      fc.string({ unit: "binary", maxLength: 300 })
    )
    fc.assert(
      fc.property(hostile, hostile, hostile, (org, meeting, id) => {
        const name = AzureBlobSink.blobName("pre/", Layout.recordingPath(org, meeting, id))
        expect(name.startsWith("pre/")).toBe(true)
        expect(name.split("/").every((s) => s !== "" && s !== "." && s !== "..")).toBe(true)
        expect(name.length).toBeLessThan(1024)
        expect(path.posix.normalize(name)).toBe(name)
        const other = AzureBlobSink.blobName("pre/", Layout.recordingPath(org, meeting, id + "x"))
        expect(other).not.toBe(name)
      }),
      { numRuns: 500 }
    )
    for (const bad of ["../x", "a/../b", "/abs", "a\\b", ""]) expect(() => AzureBlobSink.blobName("p/", bad)).toThrow()
  })
})
