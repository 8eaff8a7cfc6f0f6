/**
 * Staging of large bodies through the part writer's worker (hash + writes off the main thread): the
 * staged file and its sha256 are the body's, also when a cut body is resumed (the hash covers the part's
 * prefix), through `stream` and through `drain`; a write failure is a StagingError with the system's
 * code; progress adds up. Real files and a real worker thread; the bodies are generated in the test.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Worker } from "node:worker_threads"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import { afterAll, describe, expect, it } from "vitest"
import { type BodyWriter, FLUSH_BYTES, PartWriters, prestart, writesDirectly } from "../src/internal/partWriter.js"
import { takeSparePartWriter } from "../src/internal/partWriterSpare.js"
import * as Staging from "../src/internal/staging.js"

const MiB = 1024 * 1024
/** Content of `bytes` bytes that differs at every offset a test cuts at. */
const content = (bytes: number): Uint8Array => {
  const b = new Uint8Array(bytes)
  for (let i = 0; i < bytes; i++) b[i] = (i * 31 + (i >>> 13)) & 0xff
  return b
}
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")
/** `bytes` in socket-read-sized chunks (fresh copies, as a socket delivers them). */
const chunksOf = (bytes: Uint8Array, size = 64 * 1024): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  for (let at = 0; at < bytes.byteLength; at += size) out.push(bytes.slice(at, at + size))
  return out
}
/** A `drain` that pushes `chunks` in order, waiting whenever a push returns a Promise. */
/** Pushes `bytes` through `body` and checks that the worker reports them, and that `file` holds exactly them. */
const pushAndCheck = async (body: BodyWriter, bytes: Uint8Array, file: string): Promise<void> => {
  for (const c of chunksOf(bytes)) await body.push(c)
  expect(await body.finish()).toMatchObject({ sha256: sha256(bytes), position: bytes.byteLength })
  expect(sha256(fs.readFileSync(file))).toBe(sha256(bytes))
}

const drainOf = (chunks: ReadonlyArray<Uint8Array>): Staging.Drain<never, never> => (push) =>
  Effect.promise(async () => {
    for (const c of chunks) await push(c)
  })

const dirs: Array<string> = []
const tempDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "staging-test-"))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

const owner = { kind: "recording", id: "rec-1" }
const key = Staging.stagingKey(owner.kind, owner.id)

/** Stages `body` and closes the staging's worker afterwards; the result and the bytes of each progress event. */
const stage = (staging: Staging.Staging, body: Staging.StageBody<Error, never>) =>
  Effect.gen(function*() {
    const events: Array<number> = []
    const exit = yield* Effect.exit(staging.stage(key, owner, body, (n) => Effect.sync(() => void events.push(n))))
    yield* staging.close
    return { exit, events }
  })

describe("staging a large body through the part writer's worker", () => {
  const whole = content(20 * MiB + 12345)

  it.each(["stream", "drain"] as const)(
    "the staged file and its sha256 are the body's; progress adds up in far fewer events than chunks (%s)",
    async (how) => {
      const staging = Staging.make(tempDir())
      const chunks = chunksOf(whole)
      const { events, exit } = await Effect.runPromise(stage(staging, {
        stream: Stream.fromIterable(chunks),
        ...(how === "drain" ? { drain: drainOf(chunks) } : {}),
        contentType: "video/mp4",
        size: whole.byteLength
      }))
      if (!Exit.isSuccess(exit)) throw new Error(`stage failed: ${String(exit.cause)}`)
      const staged = exit.value
      expect(staged.bytes).toBe(whole.byteLength)
      expect(staged.sha256).toBe(sha256(whole))
      expect(sha256(fs.readFileSync(staged.file))).toBe(sha256(whole))
      expect(events.reduce((a, b) => a + b, 0)).toBe(whole.byteLength)
      expect(events.length).toBeLessThan(chunks.length)
    }
  )

  it("a drain that receives into the ring (`into`): the bytes received in place are written unchanged, in order", async () => {
    const staging = Staging.make(tempDir())
    let inPlace = 0
    let offered = 0
    // as a socket reading into what `into` offers: up to 100 KiB of the body at a time, in place when
    // offered, else from a buffer of its own (copied by the push)
    const drain: Staging.Drain<never, never> = (push, options) =>
      Effect.promise(async () => {
        const own = new Uint8Array(100 * 1024)
        for (let at = 0; at < whole.byteLength;) {
          const target = options?.into?.()
          if (target !== undefined && target.byteLength > 0) offered++
          const memory = target !== undefined && target.byteLength > 0 ? target : own
          const n = Math.min(memory.byteLength, 100 * 1024, whole.byteLength - at)
          memory.set(whole.subarray(at, at + n))
          if (memory === target) inPlace += n
          at += n
          await push(memory.subarray(0, n))
        }
      })
    const { exit } = await Effect.runPromise(stage(staging, {
      stream: Stream.fromIterable(chunksOf(whole)),
      drain,
      contentType: "video/mp4",
      size: whole.byteLength
    }))
    if (!Exit.isSuccess(exit)) throw new Error(`stage failed: ${String(exit.cause)}`)
    expect(exit.value.sha256).toBe(sha256(whole))
    expect(sha256(fs.readFileSync(exit.value.file))).toBe(sha256(whole))
    expect(offered).toBeGreaterThan(0)
    expect(inPlace).toBeGreaterThan(whole.byteLength / 2)
  })

  it.each(["stream", "drain"] as const)(
    "a body cut mid-way keeps its prefix in the part; resumed, the sha256 covers the prefix on disk (%s)",
    async (how) => {
      const dir = tempDir()
      // less than LARGE_BODY_BYTES is left: the resumed part's prefix is hashed in the worker all the same
      const cutAt = 13 * MiB + 4096
      const first = chunksOf(whole.subarray(0, cutAt))
      const cut = new Error("the connection closed before the body ended")
      const firstRun = await Effect.runPromise(stage(Staging.make(dir), {
        stream: Stream.concat(Stream.fromIterable(first), Stream.fail(cut)),
        ...(how === "drain" ? { drain: (push) => Effect.zipRight(drainOf(first)(push), Effect.fail(cut)) } : {}),
        contentType: "video/mp4",
        size: whole.byteLength,
        etag: "\"v1\""
      }))
      expect(firstRun.exit).toStrictEqual(Exit.fail(cut))
      // the next run: what the sweep and `resumable` find, then the rest appended through the worker
      const staging = Staging.make(dir)
      await Effect.runPromise(staging.sweep)
      const part = await Effect.runPromise(staging.resumable(key, owner))
      expect(part).toStrictEqual({ bytes: cutAt, size: whole.byteLength, etag: "\"v1\"", lastModified: null })
      const rest = chunksOf(whole.subarray(cutAt))
      const { exit } = await Effect.runPromise(stage(staging, {
        stream: Stream.fromIterable(rest),
        ...(how === "drain" ? { drain: drainOf(rest) } : {}),
        contentType: "video/mp4",
        offset: cutAt,
        size: whole.byteLength,
        etag: "\"v1\""
      }))
      if (!Exit.isSuccess(exit)) throw new Error(`stage failed: ${String(exit.cause)}`)
      expect(exit.value.received).toBe(whole.byteLength - cutAt)
      expect(exit.value.sha256).toBe(sha256(whole))
      expect(sha256(fs.readFileSync(exit.value.file))).toBe(sha256(whole))
    }
  )

  it.each(["stream", "drain"] as const)(
    "a write that fails (disk full) is a StagingError with the system's code; the part stays (%s)",
    async (how) => {
      const dir = tempDir()
      fs.mkdirSync(dir, { recursive: true })
      // every write to /dev/full fails with ENOSPC: a real full disk, for the part only
      fs.symlinkSync("/dev/full", path.join(dir, `${key}.part`))
      const chunks = chunksOf(whole)
      const { exit } = await Effect.runPromise(stage(Staging.make(dir), {
        stream: Stream.fromIterable(chunks),
        ...(how === "drain" ? { drain: drainOf(chunks) } : {}),
        contentType: "video/mp4",
        size: whole.byteLength
      }))
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) ? exit.cause : null
      const failure = error !== null && error._tag === "Fail" ? error.error : null
      expect(failure).toBeInstanceOf(Staging.StagingError)
      expect((failure as Staging.StagingError).message).toContain("cannot write")
      expect(((failure as Staging.StagingError).cause as NodeJS.ErrnoException).code).toBe("ENOSPC")
      expect(fs.lstatSync(path.join(dir, `${key}.part`)).isSymbolicLink()).toBe(true)
      expect(fs.existsSync(path.join(dir, `${key}.done`))).toBe(false)
    }
  )
})

describe("PartWriters", () => {
  /** Runs `f` with a fresh part open for writing and a PartWriters, both closed after. */
  const withPart = async (f: (file: string, fd: number, writers: PartWriters) => Promise<void>) => {
    const file = path.join(tempDir(), "body.part")
    // read and write, as `stage` opens a part it resumes (the worker hashes the prefix from it)
    const fd = fs.openSync(file, "w+")
    const writers = new PartWriters()
    try {
      await f(file, fd, writers)
    } finally {
      await writers.close()
      fs.closeSync(fd)
    }
  }

  it("a ring smaller than the chunks: every byte is written in order and hashed (the push waits for room)", () =>
    withPart(async (file, fd, writers) => {
      const bytes = content(5 * MiB + 7)
      const body = writers.open(fd, 0, file, 64 * 1024)
      let waited = 0
      for (const c of chunksOf(bytes, MiB)) {
        const pending = body.push(c)
        if (pending !== undefined) {
          waited++
          await pending
        }
      }
      const written = await body.finish()
      expect(waited).toBeGreaterThan(0)
      expect(written).toMatchObject({ sha256: sha256(bytes), position: bytes.byteLength })
      expect(sha256(fs.readFileSync(file))).toBe(sha256(bytes))
    }))

  it("a push that leaves its ring nearly full returns a promise of room, also for bytes received in place", () =>
    withPart(async (file, fd, writers) => {
      const ring = 256 * 1024
      const bytes = content(3 * ring)
      const body = writers.open(fd, 0, file, ring)
      // plenty of room left: no wait
      expect(body.push(bytes.subarray(0, 1000))).toBeUndefined()
      // fits, but leaves less than an eighth of the ring: the next read would find no room to go to
      const nearlyFull = body.push(bytes.subarray(1000, ring - 100))
      expect(nearlyFull).toBeInstanceOf(Promise)
      await nearlyFull
      // received in place (as a socket reading into `into`), up to the ring's end: the same
      let at = ring - 100
      while (at < 2 * ring) {
        const target = body.into()
        const n = Math.min(target.byteLength, 2 * ring - at)
        target.set(bytes.subarray(at, at + n))
        const pending = body.push(target.subarray(0, n))
        at += n
        if (pending !== undefined) await pending
      }
      let waitedInPlace = false
      for (; at < bytes.byteLength;) {
        const target = body.into()
        const n = Math.min(target.byteLength, bytes.byteLength - at)
        target.set(bytes.subarray(at, at + n))
        const pending = body.push(target.subarray(0, n))
        at += n
        if (pending !== undefined) {
          waitedInPlace = true
          await pending
        }
      }
      expect(waitedInPlace).toBe(true)
      const written = await body.finish()
      expect(written).toMatchObject({ sha256: sha256(bytes), position: bytes.byteLength })
      expect(sha256(fs.readFileSync(file))).toBe(sha256(bytes))
    }))

  it("a resumed part that ends off a block boundary: appended in order, whole blocks written directly where the file system can", () =>
    withPart(async (file, fd, writers) => {
      const bytes = content(3 * MiB + 999)
      const offset = 12_345
      fs.writeSync(fd, bytes, 0, offset, 0)
      const body = writers.open(fd, offset, file, 256 * 1024)
      // odd-sized pushes, so runs end anywhere in a block
      for (let at = offset; at < bytes.byteLength; at += 70_001) {
        await body.push(bytes.subarray(at, Math.min(at + 70_001, bytes.byteLength)))
      }
      const written = await body.finish()
      expect(written.sha256).toBe(sha256(bytes))
      expect(written.position).toBe(bytes.byteLength)
      expect(sha256(fs.readFileSync(file))).toBe(sha256(bytes))
      // all but the first partial block, the last one and a few around waits for room (ext4 and the like)
      if (writesDirectly(path.dirname(file))) expect(written.directBytes).toBeGreaterThan(bytes.byteLength / 2)
      else expect(written.directBytes).toBe(0)
    }))

  it("the device cache is flushed while a body is written: past the flush interval a part is persisted progressively, below it never", async () => {
    const dir = tempDir()
    const direct = writesDirectly(dir)
    const bytes = content(6 * MiB + 321)
    /** Writes `bytes` as a body through `writers`: what the worker reports at its end. */
    const written = async (writers: PartWriters) => {
      const file = path.join(dir, `body-${Math.random().toString(36).slice(2)}.part`)
      const fd = fs.openSync(file, "w+")
      try {
        const body = writers.open(fd, 0, file)
        for (const c of chunksOf(bytes)) await body.push(c)
        const w = await body.finish()
        expect(sha256(fs.readFileSync(file))).toBe(sha256(bytes))
        return w
      } finally {
        await writers.close()
        fs.closeSync(fd)
      }
    }
    // a flush every MiB written directly: most of the body is persisted before its end (its final fsync
    // finds little left); without direct writes (tmpfs) there is no device cache to flush alongside
    const progressive = await written(new PartWriters(MiB))
    if (direct) {
      expect(progressive.flushedBytes).toBeGreaterThanOrEqual(MiB)
      expect(progressive.flushedBytes).toBeLessThanOrEqual(progressive.directBytes)
    } else expect(progressive.flushedBytes).toBe(0)
    // the default interval is far above such a body: it pays no flush but its final fsync
    const below = await written(new PartWriters())
    expect(below.flushedBytes).toBe(0)
    expect(FLUSH_BYTES).toBeGreaterThan(bytes.byteLength)
  })

  it("a file system without direct writes (tmpfs): every byte through the page cache, the same content", async () => {
    const dir = fs.existsSync("/dev/shm") ? fs.mkdtempSync("/dev/shm/part-writer-") : tempDir()
    dirs.push(dir)
    const file = path.join(dir, "body.part")
    const fd = fs.openSync(file, "w")
    const writers = new PartWriters()
    try {
      const bytes = content(2 * MiB + 5)
      const body = writers.open(fd, 0, file)
      for (const c of chunksOf(bytes)) await body.push(c)
      const written = await body.finish()
      expect(written).toStrictEqual({
        sha256: sha256(bytes),
        position: bytes.byteLength,
        directBytes: writesDirectly(dir) ? written.directBytes : 0,
        flushedBytes: 0
      })
      expect(sha256(fs.readFileSync(file))).toBe(sha256(bytes))
    } finally {
      await writers.close()
      fs.closeSync(fd)
    }
  })

  it("the next body reuses the ring of one the worker let go of (each ring reserves address space)", () =>
    withPart(async (file, fd, writers) => {
      const first = writers.open(fd, 0, file)
      await first.push(content(10_000))
      await first.finish()
      const second = writers.open(fd, 10_000, file)
      expect(second.ring).toBe(first.ring)
      // and a body opened while another is in flight gets a ring of its own
      const third = writers.open(fd, 10_000, file)
      expect(third.ring).not.toBe(second.ring)
      await Promise.all([second.release(), third.release()])
    }))

  it("bytes of a body that stalls reach the part without another push (a kill then loses none of them)", () =>
    withPart(async (file, fd, writers) => {
      const body = writers.open(fd, 0)
      // fewer bytes than a push wakes the worker for: the owner's timer does
      expect(body.push(content(1000))).toBeUndefined()
      await expect.poll(() => fs.statSync(file).size, { timeout: 10_000 }).toBe(1000)
      await body.release()
    }))

  /** The worker thread a PartWriters runs now (private: the tests below look at when it starts and ends). */
  const workerOf = (writers: PartWriters) => (writers as unknown as { readonly worker: Worker | undefined }).worker

  it("warm starts the worker before any body, and the first body opened after it is written by that worker", () =>
    withPart(async (file, fd, writers) => {
      expect(workerOf(writers)).toBeUndefined()
      writers.warm()
      const warmed = workerOf(writers)
      expect(warmed).toBeInstanceOf(Worker)
      const bytes = content(3 * MiB + 1)
      const body = writers.open(fd, 0, file)
      expect(workerOf(writers)).toBe(warmed)
      await pushAndCheck(body, bytes, file)
      // warm again while it runs: the same worker
      writers.warm()
      expect(workerOf(writers)).toBe(warmed)
    }))

  it("a worker started ahead (prestart) is the one the next PartWriters writes with; the one after starts its own", () =>
    withPart(async (file, fd, writers) => {
      prestart(2)
      writers.warm()
      const taken = workerOf(writers)
      expect(taken).toBeInstanceOf(Worker)
      // it was the spare: none is left for anyone else
      expect(takeSparePartWriter(FLUSH_BYTES)).toBeUndefined()
      const bytes = content(3 * MiB + 5)
      const body = writers.open(fd, 0, file)
      expect(workerOf(writers)).toBe(taken)
      await pushAndCheck(body, bytes, file)
      const next = new PartWriters()
      next.warm()
      expect(workerOf(next)).toBeInstanceOf(Worker)
      expect(workerOf(next)).not.toBe(taken)
      await next.close()
    }))

  it("the spare maps the rings of the first bodies ahead: they take those rings, and their bytes are written unchanged", () =>
    withPart(async (file, fd, writers) => {
      prestart(2)
      writers.warm()
      const free = () => (writers as unknown as { readonly freeRings: ReadonlyArray<SharedArrayBuffer> }).freeRings
      // the worker reports each ring once it has mapped it
      while (free().length < 2) await new Promise((resolve) => setTimeout(resolve, 5))
      const mapped = [...free()]
      const bytes = content(6 * MiB + 3)
      const body = writers.open(fd, 0, file)
      expect(mapped).toContain(body.ring)
      await pushAndCheck(body, bytes, file)
    }))

  it("a spare started for another flush interval is not taken (its flushes would not be the writer's)", async () => {
    prestart(2)
    const other = new PartWriters(1024 * 1024)
    other.warm()
    const spare = takeSparePartWriter(FLUSH_BYTES)
    expect(spare).toBeDefined()
    expect(workerOf(other)).not.toBe(spare!.worker)
    await other.close()
    await spare!.worker.terminate()
  })

  it("close resolves once the worker is told to end, before its thread has exited", () =>
    withPart(async (_file, fd, writers) => {
      const body = writers.open(fd, 0)
      await body.release()
      const worker = workerOf(writers)!
      let exited = false
      const exit = new Promise((resolve) => worker.once("exit", resolve)).then(() => {
        exited = true
      })
      await writers.close()
      expect(exited).toBe(false)
      expect(workerOf(writers)).toBeUndefined()
      await exit
    }))

  it("closed while a body is open: the body fails with an error, its release resolves", () =>
    withPart(async (_file, fd, writers) => {
      const body = writers.open(fd, 0)
      body.push(content(1000))
      await writers.close()
      await expect(body.finish()).rejects.toThrow("the part writer was closed")
      await body.release()
      expect(() => body.push(content(10))).toThrow("the part writer was closed")
    }))
})
