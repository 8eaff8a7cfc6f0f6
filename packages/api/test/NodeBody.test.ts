/**
 * The batched reader of Node response bodies (src/internal/nodeBody.ts), on real Node streams: what
 * arrived while the consumer was busy comes as one pull, in order; the source is paused at BATCH_BYTES
 * buffered (memory stays bounded) and resumed when they are taken; a source that ends gives None after
 * its last bytes, one that fails or closes before its end gives the failure after the bytes it had.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { PassThrough } from "node:stream"
import { BATCH_BYTES, pullBatched } from "../src/internal/nodeBody.js"

const bytesOf = (chunk: Chunk.Chunk<Uint8Array>) => Chunk.reduce(chunk, 0, (n, b) => n + b.length)
/** Lets the stream deliver what was written (its 'data' events run on later ticks). */
const settle = Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))

describe("pullBatched", () => {
  it.scoped("what arrived between two pulls is one pull, in order, and the end is None after the last bytes", () =>
    Effect.gen(function*() {
      const source = new PassThrough()
      const pull = yield* pullBatched(source)
      for (let i = 0; i < 5; i++) source.write(Buffer.alloc(1000, i))
      yield* settle
      const first = yield* pull
      expect(Chunk.size(first)).toBe(5)
      expect(Chunk.toReadonlyArray(first).map((b) => b[0])).toEqual([0, 1, 2, 3, 4])
      source.end(Buffer.alloc(10, 9))
      yield* settle
      expect(bytesOf(yield* pull)).toBe(10)
      expect(yield* Effect.exit(pull)).toEqual(Exit.fail(Option.none()))
    }))

  it.scoped("a pull waits for data when nothing is there", () =>
    Effect.gen(function*() {
      const source = new PassThrough()
      const pull = yield* pullBatched(source)
      const waiting = yield* Effect.fork(pull)
      yield* settle
      source.write(Buffer.from("abc"))
      const got = yield* waiting.await
      expect(Exit.isSuccess(got) && Buffer.concat(Chunk.toReadonlyArray(got.value)).toString()).toBe("abc")
    }))

  it.scoped("the source is paused at BATCH_BYTES buffered and resumed once they are taken", () =>
    Effect.gen(function*() {
      const source = new PassThrough({ highWaterMark: 64 * 1024 })
      const pull = yield* pullBatched(source)
      const piece = 64 * 1024
      const pieces = Math.ceil((3 * BATCH_BYTES) / piece)
      for (let i = 0; i < pieces; i++) source.write(Buffer.alloc(piece, i % 256))
      source.end()
      yield* settle
      expect(source.isPaused()).toBe(true)
      let total = 0
      let pulls = 0
      for (;;) {
        const next = yield* Effect.exit(pull)
        if (Exit.isFailure(next)) break
        const n = bytesOf(next.value)
        // never more than one piece past the bound in one batch
        expect(n).toBeLessThan(BATCH_BYTES + piece)
        total += n
        pulls++
        yield* settle
      }
      expect(total).toBe(pieces * piece)
      expect(pulls).toBeGreaterThanOrEqual(3)
    }))

  it.scoped("a source that fails gives its bytes first, then the failure", () =>
    Effect.gen(function*() {
      const source = new PassThrough()
      const pull = yield* pullBatched(source)
      source.write(Buffer.alloc(100))
      yield* settle
      source.destroy(new Error("socket hang up"))
      yield* settle
      expect(bytesOf(yield* pull)).toBe(100)
      const failed = yield* Effect.flip(pull)
      expect(Option.isSome(failed) && failed.value.message).toBe("socket hang up")
    }))

  it.scoped("a source closed before its end (no error) fails, never ends quietly short", () =>
    Effect.gen(function*() {
      const source = new PassThrough()
      const pull = yield* pullBatched(source)
      source.write(Buffer.alloc(100))
      yield* settle
      expect(bytesOf(yield* pull)).toBe(100)
      source.destroy()
      const failed = yield* Effect.flip(pull)
      expect(Option.isSome(failed) && failed.value.message).toMatch(/closed before the body ended/)
    }))

  it("closing the scope early destroys a source not read to its end", () =>
    Effect.gen(function*() {
      const source = new PassThrough()
      yield* Effect.scoped(Effect.flatMap(pullBatched(source), () => Effect.sync(() => source.write("x"))))
      expect(source.destroyed).toBe(true)
    }).pipe(Effect.runPromise))
})
