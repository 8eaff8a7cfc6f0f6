import { describe, expect, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as fc from "fast-check"
import { ArtifactSet } from "@meeting-artifacts/correlate"
import { Failures, Manifest } from "../src/index.js"
import { runAndKill } from "./support/child.js"
import { makeSet, tempDir } from "./support/data.js"

const rf = (id: string) => ({
  path: `o/m/recording-${id}.mp4`,
  bytes: 100,
  sha256: "a".repeat(64),
  contentType: "video/mp4"
})
const tf = (id: string, cues = 3) => ({ path: `o/m/transcript-${id}.vtt`, bytes: 50, sha256: "b".repeat(64), cues })

const entry = (meeting: string, r: string | null, t: string | null) =>
  Manifest.entryFromSet(makeSet(meeting, r, t), {
    recording: r ? rf(r) : null,
    transcript: t ? tf(t) : null
  })

const ids = (lines: ReadonlyArray<Manifest.ManifestEntry>) => ({
  r: lines.flatMap((l) => (l.recording ? [l.recording.id] : [])).sort(),
  t: lines.flatMap((l) => (l.transcript ? [l.transcript.id] : [])).sort()
})

describe("Manifest", () => {
  it.effect("writes lines in the documented shape and key order", () =>
    Effect.gen(function*() {
      const out = tempDir()
      const m = yield* Manifest.make(out)
      yield* m.upsert(entry("m1", "r1", "t1"))
      const text = fs.readFileSync(path.join(out, "manifest.jsonl"), "utf8")
      expect(text.endsWith("\n")).toBe(true)
      const line = JSON.parse(text.trim())
      expect(Object.keys(line)).toEqual([
        "meetingId",
        "organizerId",
        "contentCorrelationId",
        "match",
        "recording",
        "transcript"
      ])
      expect(Object.keys(line.recording)).toEqual([
        "id",
        "createdDateTime",
        "endDateTime",
        "path",
        "bytes",
        "sha256",
        "contentType"
      ])
      expect(Object.keys(line.transcript)).toEqual([
        "id",
        "createdDateTime",
        "endDateTime",
        "path",
        "bytes",
        "sha256",
        "cues"
      ])
      expect(line).toMatchObject({
        meetingId: "m1",
        organizerId: "org-1",
        contentCorrelationId: "cc-m1",
        match: "contentCorrelationId",
        recording: {
          id: "r1",
          createdDateTime: "2026-03-02T10:00:00.1234567Z",
          path: "o/m/recording-r1.mp4",
          bytes: 100
        },
        transcript: { id: "t1", cues: 3 }
      })
    }))

  it.effect("an ad hoc call's line has source right after meetingId; a meeting's line has none", () =>
    Effect.gen(function*() {
      const out = tempDir()
      const m = yield* Manifest.make(out)
      const meeting = entry("m1", "r1", "t1")
      const call = Manifest.entryFromSet(new ArtifactSet({ ...makeSet("call-1", "r2", "t2"), source: "adhocCall" }), {
        recording: rf("r2"),
        transcript: tf("t2")
      })
      yield* m.upsert([meeting, call])
      yield* m.flush
      const [first, second] = fs.readFileSync(path.join(out, "manifest.jsonl"), "utf8").trim().split("\n")
      // The meeting line is exactly what it was before ad hoc calls existed.
      expect(first).toBe(
        `{"meetingId":"m1","organizerId":"org-1","contentCorrelationId":"cc-m1","match":"contentCorrelationId",` +
          `"recording":{"id":"r1","createdDateTime":"2026-03-02T10:00:00.1234567Z","endDateTime":"2026-03-02T11:00:00.0000000Z",` +
          `"path":"o/m/recording-r1.mp4","bytes":100,"sha256":"${"a".repeat(64)}","contentType":"video/mp4"},` +
          `"transcript":{"id":"t1","createdDateTime":"2026-03-02T10:00:05.0000000Z","endDateTime":"2026-03-02T11:00:00.0000000Z",` +
          `"path":"o/m/transcript-t1.vtt","bytes":50,"sha256":"${"b".repeat(64)}","cues":3}}`
      )
      expect(Object.keys(JSON.parse(second!)).slice(0, 3)).toEqual(["meetingId", "source", "organizerId"])
      // It survives a reload, and a residual of a re-paired call line keeps it.
      const again = yield* Manifest.make(out)
      yield* again.upsert(
        Manifest.entryFromSet(new ArtifactSet({ ...makeSet("call-1", "r3", "t2"), source: "adhocCall" }), {
          recording: rf("r3"),
          transcript: tf("t2")
        })
      )
      const lines = yield* again.entries
      expect(lines.map((l) => [l.meetingId, l.source, l.recording?.id ?? null, l.transcript?.id ?? null])).toEqual([
        ["m1", undefined, "r1", "t1"],
        ["call-1", "adhocCall", "r3", "t2"],
        ["call-1", "adhocCall", "r2", null]
      ])
    }))

  it.effect("re-pairing keeps each id in exactly one line, across reloads", () =>
    Effect.gen(function*() {
      const out = tempDir()
      const m1 = yield* Manifest.make(out)
      yield* m1.upsert([entry("m1", "r1", null), entry("m1", null, "t1"), entry("m2", "r2", "t2")])
      yield* m1.upsert(entry("m1", "r1", null)) // same again
      expect((yield* m1.entries).length).toBe(3)
      // a later run pairs r1 with t1
      const m2 = yield* Manifest.make(out)
      yield* m2.upsert(entry("m1", "r1", "t1"))
      const lines = yield* Manifest.read(out)
      expect(lines.length).toBe(2)
      expect(ids(lines)).toEqual({ r: ["r1", "r2"], t: ["t1", "t2"] })
      // r2 re-paired with t3: t2 keeps a line of its own
      yield* m2.upsert(entry("m2", "r2", "t3"))
      const after = yield* Manifest.read(out)
      expect(ids(after)).toEqual({ r: ["r1", "r2"], t: ["t1", "t2", "t3"] })
      const t2 = after.find((l) => l.transcript?.id === "t2")!
      expect(t2.recording).toBeNull()
      expect(t2.match).toBe("none")
    }))

  it("any sequence of upserts keeps every id in exactly one line", () => {
    const arb = fc.array(
      fc.record({
        m: fc.constantFrom("m1", "m2"),
        r: fc.option(fc.constantFrom("r1", "r2", "r3"), { nil: null }),
        t: fc.option(fc.constantFrom("t1", "t2", "t3"), { nil: null })
      }),
      { maxLength: 30 }
    )
    fc.assert(
      fc.property(arb, (ops) => {
        let lines: Array<Manifest.ManifestEntry> = []
        const everR = new Set<string>()
        const everT = new Set<string>()
        for (const op of ops) {
          lines = Manifest.mergeEntries(lines, [entry(op.m, op.r, op.t)])
          if (op.r) everR.add(op.r)
          if (op.t) everT.add(op.t)
          const { r, t } = ids(lines)
          expect(r).toEqual([...everR].sort())
          expect(t).toEqual([...everT].sort())
        }
        const last = ops.at(-1)
        if (last && (last.r || last.t)) {
          expect(
            lines.some((l) => l.recording?.id === (last.r ?? undefined) && l.transcript?.id === (last.t ?? undefined))
          )
            .toBe(true)
        }
      })
    )
  })

  it("the indexed store (makeLines) gives mergeEntries' lines, in the same order, and the same text; holds says which upserts change nothing", () => {
    const arb = fc.array(
      fc.record({
        m: fc.constantFrom("m1", "m2", "m3"),
        r: fc.option(fc.constantFrom("r1", "r2", "r3", "r4"), { nil: null }),
        t: fc.option(fc.constantFrom("t1", "t2", "t3", "t4"), { nil: null }),
        batch: fc.boolean()
      }),
      { maxLength: 40 }
    )
    fc.assert(
      fc.property(arb, fc.nat({ max: 40 }), (ops, reloadAt) => {
        let reference: Array<Manifest.ManifestEntry> = []
        let store = Manifest.makeLines()
        ops.forEach((op, i) => {
          // a reload (make() on the written file) loads the same lines back
          if (i === reloadAt) store = Manifest.makeLines(store.lines())
          const e = entry(op.m, op.r, op.t)
          reference = Manifest.mergeEntries(reference, op.batch ? [e, e] : [e])
          // holds: the line is there already, exactly; the upsert leaves the text as it was
          const before = store.text()
          const held = store.holds(e)
          store.upsert(e)
          expect(held).toBe(store.text() === before)
          if (op.batch) store.upsert(e)
          expect(store.lines()).toEqual(reference)
        })
        expect(store.text()).toBe(reference.map((l) => Manifest.formatEntry(l) + "\n").join(""))
      }),
      { numRuns: 300 }
    )
  })

  it.effect("concurrent upserts coalesce, and each returns only once its line is on disk", () =>
    Effect.gen(function*() {
      const out = tempDir()
      const m = yield* Manifest.make(out)
      const missing = yield* Effect.forEach(
        Array.from({ length: 60 }, (_, i) => i),
        (i) =>
          Effect.andThen(
            m.upsert(entry(`m${i}`, `r${i}`, i % 2 ? `t${i}` : null)),
            () =>
              Manifest.read(out).pipe(Effect.map((lines) => (lines.some((l) => l.recording?.id === `r${i}`) ? 0 : 1)))
          ),
        { concurrency: 12 }
      )
      expect(missing.filter((x) => x !== 0)).toEqual([])
      const lines = yield* Manifest.read(out)
      expect(lines.length).toBe(60)
      expect(ids(lines).r.length).toBe(60)
      // flushed: manifest.jsonl holds everything and the journal is gone
      yield* m.flush
      expect(Manifest.makeLines(yield* m.entries).text()).toBe(
        fs.readFileSync(path.join(out, "manifest.jsonl"), "utf8")
      )
      expect(fs.existsSync(Manifest.journalPath(out))).toBe(false)
      expect(fs.readdirSync(out).filter((f) => f !== "manifest.jsonl" && f !== ".meeting-artifacts")).toEqual([])
    }))

  it.effect("upserts go to the journal; manifest.jsonl is only ever replaced whole, and holds everything once flushed", () =>
    Effect.gen(function*() {
      const out = tempDir()
      const file = path.join(out, "manifest.jsonl")
      const wholeLines = () =>
        fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "").map((l) =>
          JSON.parse(l) as Manifest.ManifestEntry
        )
      const m = yield* Manifest.make(out)
      yield* m.upsert(entry("m0", "r0", "t0"))
      expect(wholeLines().map((l) => l.recording?.id)).toEqual(["r0"]) // the first write creates the file
      let seen = 1
      for (let batch = 0; batch < 10; batch++) {
        yield* Effect.forEach(
          Array.from({ length: 20 }, (_, k) => 1 + batch * 20 + k),
          (i) => m.upsert(entry(`m${i}`, `r${i}`, null)),
          {
            concurrency: 8
          }
        )
        // every line of manifest.jsonl parses at every point; what it lacks yet is in the journal
        const visible = wholeLines().map((l) => l.recording!.id)
        const durable = (yield* Manifest.read(out)).map((l) => l.recording!.id)
        expect(durable.length).toBe(2 + batch * 20 + 19)
        expect(durable.slice(0, visible.length)).toEqual(visible)
        seen = Math.max(seen, visible.length)
      }
      // rewritten whole along the way as the journal grew (not only by the flush)
      expect(seen).toBeGreaterThan(1)
      // a late transcript re-pairs r7 through the journal too
      yield* m.upsert(entry("m7", "r7", "t7"))
      expect((yield* Manifest.read(out))[7]).toMatchObject({ recording: { id: "r7" }, transcript: { id: "t7" } })
      yield* m.flush
      expect(fs.existsSync(Manifest.journalPath(out))).toBe(false)
      expect(fs.readFileSync(file, "utf8")).toBe(Manifest.makeLines(yield* m.entries).text())
      expect(wholeLines()[7]).toMatchObject({ recording: { id: "r7" }, transcript: { id: "t7" } })
      expect(wholeLines().length).toBe(201)
    }))

  it.effect("Manifest.scoped lets go of the journal file it keeps open when its scope closes; its lines stay", () =>
    Effect.gen(function*() {
      const out = tempDir()
      const journal = Manifest.journalPath(out)
      // Descriptors of this process open on the journal (Linux: /proc/self/fd).
      const openOnJournal = () =>
        fs.readdirSync("/proc/self/fd").filter((fd) => {
          try {
            return fs.readlinkSync(`/proc/self/fd/${fd}`) === journal
          } catch {
            return false
          }
        }).length
      yield* Effect.scoped(Effect.gen(function*() {
        const m = yield* Manifest.scoped(out)
        yield* m.upsert(entry("m0", "r0", "t0"))
        yield* m.upsert(entry("m1", "r1", null))
        expect(fs.existsSync(journal)).toBe(true)
        expect(openOnJournal()).toBe(1)
      }))
      expect(openOnJournal()).toBe(0)
      expect((yield* Manifest.read(out)).map((l) => l.recording?.id)).toEqual(["r0", "r1"])
    }))

  it.effect("a journal a killed run left is merged by the next make; a stale one is dropped; a cut last line is dropped", () =>
    Effect.gen(function*() {
      const out = tempDir()
      const file = path.join(out, "manifest.jsonl")
      const m = yield* Manifest.make(out)
      yield* m.upsert([entry("m1", "r1", null), entry("m2", "r2", null)])
      yield* m.flush
      const base = fs.readFileSync(file, "utf8")
      const sha = (t: string) => createHash("sha256").update(t, "utf8").digest("hex")
      const journal = (manifestText: string, ...lines: Array<string>) => {
        fs.mkdirSync(path.dirname(Manifest.journalPath(out)), { recursive: true })
        fs.writeFileSync(
          Manifest.journalPath(out),
          [JSON.stringify({ manifestSha256: sha(manifestText) }), ...lines].join("\n")
        )
      }
      const line = (m: string, r: string, t: string | null) => Manifest.formatEntry(entry(m, r, t))
      // what a killed run leaves: a journal naming this manifest, its last append cut short
      journal(base, line("m1", "r1", "t1"), line("m3", "r3", null), line("m4", "r4", null).slice(0, 30))
      expect(yield* Manifest.unflushed(out)).toBe(2)
      const merged = yield* Manifest.read(out)
      expect(merged.map((l) => [l.recording?.id, l.transcript?.id ?? null])).toEqual([["r1", "t1"], ["r2", null], [
        "r3",
        null
      ]])
      // loading alone changes no file (a dry run loads and never flushes)
      const journaled = fs.readFileSync(Manifest.journalPath(out), "utf8")
      yield* Manifest.make(out)
      expect(fs.readFileSync(file, "utf8")).toBe(base)
      expect(fs.readFileSync(Manifest.journalPath(out), "utf8")).toBe(journaled)
      // a re-run whose upserts are all unchanged still leaves the merged manifest once flushed
      const m2 = yield* Manifest.make(out)
      yield* m2.upsert(entry("m3", "r3", null))
      yield* m2.flush
      expect(fs.readFileSync(file, "utf8")).toBe(merged.map((l) => Manifest.formatEntry(l) + "\n").join(""))
      expect(fs.existsSync(Manifest.journalPath(out))).toBe(false)
      // a journal that names an older manifest (a kill after the rewrite, before its removal) is already merged
      const now = fs.readFileSync(file, "utf8")
      journal(base, line("m1", "r1", null))
      expect(yield* Manifest.unflushed(out)).toBe(0)
      expect((yield* Manifest.read(out)).map((l) => Manifest.formatEntry(l) + "\n").join("")).toBe(now)
    }))

  it.effect("a malformed manifest is a clear error, not silently dropped", () =>
    Effect.gen(function*() {
      const out = tempDir()
      fs.writeFileSync(path.join(out, "manifest.jsonl"), "{\"meetingId\":1}\n")
      const err = yield* Effect.flip(Manifest.make(out))
      expect(err.message).toContain("line 1")
    }))

  it.live("a writer killed mid-upsert leaves a complete manifest", () =>
    Effect.gen(function*() {
      const out = tempDir()
      yield* Effect.promise(() => runAndKill(["manifest", out, "100000"], 150))
      // manifest.jsonl as any reader finds it: whole lines only, a prefix of what was upserted
      const visible = fs.readFileSync(path.join(out, "manifest.jsonl"), "utf8").split("\n").filter((l) => l !== "")
        .map((l) => JSON.parse(l).recording.id as string)
      expect(visible).toEqual(visible.map((_, i) => `r${i}`))
      // with the journal: every upsert that returned (at least the 6 before "started")
      const lines = yield* Manifest.read(out)
      expect(lines.length).toBeGreaterThan(5)
      expect(lines.length).toBeGreaterThanOrEqual(visible.length)
      expect(lines.map((l) => l.recording!.id)).toEqual(lines.map((_, i) => `r${i}`))
      const names = fs.readdirSync(out).filter((n) => !n.endsWith(".partial"))
      expect(names.sort()).toEqual([".meeting-artifacts", "manifest.jsonl"])
    }), 60_000)
})

describe("Failures", () => {
  it.effect("concurrent failure records and resolves each return once the file shows them", () =>
    Effect.gen(function*() {
      const out = tempDir()
      const log = yield* Failures.make(out)
      const f = (i: number) => ({
        kind: "recording" as const,
        id: `r${i}`,
        meetingId: "m1",
        organizerId: "o",
        reason: "Forbidden",
        status: 403,
        code: "Forbidden",
        requestId: `req-${i}`,
        at: "2026-01-01T00:00:00.000Z"
      })
      const onDisk = Effect.map(Failures.read(out), (l) => new Set(l.map((x) => x.id)))
      const seen = yield* Effect.forEach(
        Array.from({ length: 40 }, (_, i) => i),
        (i) => Effect.andThen(log.record(f(i)), () => Effect.map(onDisk, (ids) => ids.has(`r${i}`))),
        { concurrency: 10 }
      )
      expect(seen.every((x) => x)).toBe(true)
      expect((yield* Failures.read(out)).length).toBe(40)
      const gone = yield* Effect.forEach(
        Array.from({ length: 40 }, (_, i) => i),
        (i) => Effect.andThen(log.resolve("recording", `r${i}`), () => Effect.map(onDisk, (ids) => !ids.has(`r${i}`))),
        { concurrency: 10 }
      )
      expect(gone.every((x) => x)).toBe(true)
      expect(fs.existsSync(path.join(out, "failures.jsonl"))).toBe(false)
    }))

  it.effect("records, replaces by kind + id, resolves, and removes the file when empty", () =>
    Effect.gen(function*() {
      const out = tempDir()
      const log = yield* Failures.make(out)
      const f = {
        kind: "recording" as const,
        id: "r1",
        meetingId: "m1",
        organizerId: "o",
        reason: "Forbidden: policy",
        status: 403,
        code: "Forbidden",
        requestId: "req-1",
        at: "2026-01-01T00:00:00.000Z"
      }
      yield* log.record(f)
      yield* log.record({ ...f, reason: "again", requestId: "req-2" })
      yield* log.record({ ...f, kind: "transcript", id: "t1", status: null, code: null, requestId: null })
      const lines = fs.readFileSync(path.join(out, "failures.jsonl"), "utf8").trim().split("\n").map((l) =>
        JSON.parse(l)
      )
      expect(lines).toHaveLength(2)
      expect(lines[0]).toEqual({ ...f, reason: "again", requestId: "req-2" })
      expect(Object.keys(lines[0])).toEqual([
        "kind",
        "id",
        "meetingId",
        "organizerId",
        "reason",
        "status",
        "code",
        "requestId",
        "at"
      ])
      const reread = yield* Failures.make(out)
      expect((yield* reread.entries).length).toBe(2)
      yield* reread.resolve("recording", "r1")
      yield* reread.resolve("transcript", "t1")
      expect(fs.existsSync(path.join(out, "failures.jsonl"))).toBe(false)
    }))
})
