import { describe, expect, it } from "@effect/vitest"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import { FileSystemSink } from "../src/index.js"
import { runAndKill } from "./support/child.js"
import { tempDir } from "./support/data.js"

const bytes = (n: number, seed = 1) => {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff
  return b
}
const chunked = (b: Uint8Array, size = 1000) =>
  Stream.fromChunk(
    Chunk.unsafeFromArray(
      Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.slice(i * size, (i + 1) * size))
    )
  )
const sha = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex")

const listAll = (dir: string): Array<string> =>
  fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort()

describe("FileSystemSink", () => {
  it.effect("adopt moves a complete file into place by a rename (same inode, no copy) and refuses escaping paths", () =>
    Effect.gen(function*() {
      const out = tempDir()
      const data = bytes(70_001)
      const staged = path.join(out, ".meeting-artifacts", "staging", "x.done")
      fs.mkdirSync(path.dirname(staged), { recursive: true })
      fs.writeFileSync(staged, data)
      const inode = fs.statSync(staged).ino
      const expected = { bytes: data.length, sha256: sha(data) }
      const w = yield* FileSystemSink.adoptContent(out, "o/m/recording-x.mp4", staged, expected)
      expect(w).toEqual({ path: "o/m/recording-x.mp4", ...expected })
      expect(fs.statSync(path.join(out, "o/m/recording-x.mp4")).ino).toBe(inode)
      expect(fs.existsSync(staged)).toBe(false)
      expect(yield* FileSystemSink.isComplete(out, w.path, expected)).toBe(true)
      fs.writeFileSync(staged, data)
      const escaped = yield* Effect.exit(FileSystemSink.adoptContent(out, "../outside.mp4", staged, expected))
      expect(Exit.isFailure(escaped)).toBe(true)
      expect(fs.existsSync(staged)).toBe(true)
    }))

  it.effect("a sink trusts only the folders it made: a link planted at a file's name elsewhere is still refused", () =>
    Effect.gen(function*() {
      const out = tempDir()
      const outside = path.join(tempDir(), "target.mp4")
      fs.writeFileSync(outside, "theirs")
      fs.mkdirSync(path.join(out, "o"))
      fs.symlinkSync(outside, path.join(out, "o", "planted.mp4"))
      const sink = FileSystemSink.make(out)
      const stage = (name: string, data: Uint8Array) => {
        const file = path.join(out, ".meeting-artifacts", "staging", name)
        fs.mkdirSync(path.dirname(file), { recursive: true })
        fs.writeFileSync(file, data)
        return file
      }
      const data = bytes(300)
      const expected = { bytes: data.length, sha256: sha(data) }
      // makes o/m (o was there): only o/m is the sink's own
      yield* sink.adopt!("o/m/recording-a.mp4", stage("a.done", data), expected)
      yield* sink.adopt!("o/m/transcript-a.vtt", stage("b.done", data), expected)
      const refused = yield* Effect.flip(sink.adopt!("o/planted.mp4", stage("c.done", data), expected))
      expect(refused.operation).toBe("symlink")
      expect(fs.readFileSync(outside, "utf8")).toBe("theirs")
      expect(fs.lstatSync(path.join(out, "o", "planted.mp4")).isSymbolicLink()).toBe(true)
      expect(listAll(path.join(out, "o"))).toEqual(["m/recording-a.mp4", "m/transcript-a.vtt"])
    }))

  it.effect("adopt across file systems (EXDEV) streams the file into place instead and removes it", () =>
    Effect.gen(function*() {
      // /dev/shm is a tmpfs on Linux, the temp dir here is not: the rename fails with EXDEV
      const out = tempDir()
      const data = bytes(50_000, 3)
      const elsewhere = fs.mkdtempSync("/dev/shm/adopt-")
      const staged = path.join(elsewhere, "x.done")
      fs.writeFileSync(staged, data)
      const w = yield* FileSystemSink.adoptContent(out, "o/m/transcript-x.vtt", staged, {
        bytes: data.length,
        sha256: sha(data)
      })
      expect(new Uint8Array(fs.readFileSync(path.join(out, w.path)))).toEqual(data)
      expect(fs.existsSync(staged)).toBe(false)
      expect(listAll(out)).toEqual(["o/m/transcript-x.vtt"])
      fs.rmSync(elsewhere, { recursive: true, force: true })
    }))

  it.effect("streams to the final path with size and sha256 computed on the way", () =>
    Effect.gen(function*() {
      const out = tempDir()
      const data = bytes(123_457)
      const w = yield* FileSystemSink.writeContent(out, "o/m/recording-x.mp4", chunked(data))
      expect(w).toEqual({ path: "o/m/recording-x.mp4", bytes: data.length, sha256: sha(data) })
      expect(new Uint8Array(fs.readFileSync(path.join(out, "o/m/recording-x.mp4")))).toEqual(data)
      expect(yield* FileSystemSink.isComplete(out, w.path, w)).toBe(true)
      expect(yield* FileSystemSink.isComplete(out, w.path, { bytes: w.bytes, sha256: sha(bytes(5)) })).toBe(false)
      expect(yield* FileSystemSink.isComplete(out, w.path, { bytes: w.bytes + 1, sha256: w.sha256 })).toBe(false)
      expect(yield* FileSystemSink.isComplete(out, "o/m/missing.mp4", w)).toBe(false)
      expect(yield* FileSystemSink.statContent(out, "o/m/missing.mp4")).toBeNull()
    }))

  it.effect("hasSize looks at the size only: no content read, no folder or escaping path taken for a file", () =>
    Effect.gen(function*() {
      const out = tempDir()
      const data = bytes(4_321)
      const w = yield* FileSystemSink.writeContent(out, "o/m/recording-x.mp4", chunked(data))
      const sink = FileSystemSink.make(out)
      expect(yield* sink.hasSize!(w.path, data.length)).toBe(true)
      expect(yield* sink.hasSize!(w.path, data.length - 1)).toBe(false)
      expect(yield* sink.hasSize!("o/m/missing.mp4", data.length)).toBe(false)
      expect(yield* sink.hasSize!("o/m/recording-x.mp4/under-a-file.mp4", data.length)).toBe(false)
      fs.mkdirSync(path.join(out, "o/m/folder.mp4"))
      expect(yield* sink.hasSize!("o/m/folder.mp4", 4096)).toBe(false)
      // Same size, other bytes: still "present" to a dry run (the real run's isComplete checks the sha256).
      fs.writeFileSync(path.join(out, w.path), bytes(data.length, 9))
      expect(yield* sink.hasSize!(w.path, data.length)).toBe(true)
      expect(yield* sink.isComplete(w.path, w)).toBe(false)
      const escaped = yield* Effect.exit(sink.hasSize!("../outside.mp4", 1))
      expect(Exit.isFailure(escaped)).toBe(true)
    }))

  it.effect("writing the same content twice leaves one file and no temp files", () =>
    Effect.gen(function*() {
      const out = tempDir()
      const data = bytes(10_000)
      const a = yield* FileSystemSink.writeContent(out, "a/b.vtt", chunked(data))
      const b = yield* FileSystemSink.writeContent(out, "a/b.vtt", chunked(data))
      expect(a).toEqual(b)
      expect(listAll(out)).toEqual(["a/b.vtt"])
    }))

  it.effect("a failing stream leaves the previous file untouched and no temp file", () =>
    Effect.gen(function*() {
      const out = tempDir()
      const old = bytes(5000, 7)
      yield* FileSystemSink.writeContent(out, "x/y.mp4", chunked(old))
      const failing = Stream.concat(chunked(bytes(3000, 9)), Stream.fail("connection reset" as const))
      const exit = yield* Effect.exit(FileSystemSink.writeContent(out, "x/y.mp4", failing))
      expect(exit).toEqual(Exit.fail("connection reset"))
      expect(new Uint8Array(fs.readFileSync(path.join(out, "x/y.mp4")))).toEqual(old)
      expect(listAll(out)).toEqual(["x/y.mp4"])
    }))

  it.live("an interrupted write leaves no temp file", () =>
    Effect.gen(function*() {
      const out = tempDir()
      const slow = Stream.repeatEffect(Effect.as(Effect.sleep("1 millis"), bytes(100)))
      const exit = yield* FileSystemSink.writeContent(out, "s/t.bin", slow).pipe(
        Effect.timeout("50 millis"),
        Effect.exit
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expect(listAll(out)).toEqual([])
    }))

  it.effect("refuses paths that escape the root", () =>
    Effect.gen(function*() {
      const out = tempDir()
      for (const p of ["../x", "/etc/passwd", "a/../../x", "", "a//b", "a\\..\\b", "./a", "a/\0"]) {
        const err = yield* Effect.flip(FileSystemSink.writeContent(out, p, chunked(bytes(3))))
        expect(err._tag).toBe("SinkError")
      }
      expect(fs.readdirSync(path.dirname(out)).includes("x")).toBe(false)
      expect(listAll(out)).toEqual([])
    }))

  it.live(
    "a writer killed (SIGKILL) mid-write leaves the old file or the new one, never a partial one",
    () =>
      Effect.gen(function*() {
        const out = tempDir()
        const rel = "org/meet/recording-r.mp4"
        const chunk = 65536
        yield* FileSystemSink.writeContent(out, rel, chunked(new Uint8Array(chunk * 4).fill(1), chunk))
        const seen = new Set<string>()
        for (const delay of [0, 10_000]) {
          const r = yield* Effect.promise(() => runAndKill(["content", out, rel, "60", "2"], delay))
          const now = new Uint8Array(fs.readFileSync(path.join(out, rel)))
          const allOld = now.length === chunk * 4 && now.every((b) => b === 1)
          const allNew = now.length === chunk * 60 && now.every((b) => b === 2)
          expect(allOld || allNew).toBe(true)
          if (r.finished) expect(allNew).toBe(true)
          seen.add(allNew ? "new" : "old")
          yield* FileSystemSink.removeTempFiles(out)
          expect(listAll(out)).toEqual([rel])
          if (allNew) {
            // restore the old content for the next round
            yield* FileSystemSink.writeContent(out, rel, chunked(new Uint8Array(chunk * 4).fill(1), chunk))
          }
        }
        // The first kill interrupts; the last round (killed only after 10 s) completes.
        expect(seen.has("old")).toBe(true)
        expect(seen.has("new")).toBe(true)
      }),
    120_000
  )
})
