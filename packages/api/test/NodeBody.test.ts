/**
 * The direct reader of Node response bodies (src/internal/nodeBody.ts), on real Node streams: what
 * arrived between two pulls comes as one pull, in order; at most QUEUE_BYTES is read ahead of the pulls
 * (then the source fills up and its writer is held back: backpressure); a source that ends gives None after its
 * last bytes, one that fails or closes before its end gives a failure, never a quiet end.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { PassThrough } from "node:stream"
import { pullBody, QUEUE_BYTES } from "../src/internal/nodeBody.js"

const bytesOf = (chunk: Chunk.Chunk<Uint8Array>) => Chunk.reduce(chunk, 0, (n, b) => n + b.length)
/** Lets the stream deliver what was written (its 'data' events run on later ticks). */
const settle = Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))

describe("pullBody", () => {
  it.scoped("what arrived between two pulls is one pull, in order, and the end is None after the last bytes", () =>
    Effect.gen(function*() {
      const source = new PassThrough()
      const pull = yield* pullBody(source)
      for (let i = 0; i < 5; i++) source.write(Buffer.alloc(1000, i))
      yield* settle
      const first = Buffer.concat(Chunk.toReadonlyArray(yield* pull))
      expect(first.length).toBe(5000)
      expect([0, 1000, 2000, 3000, 4999].map((i) => first[i])).toEqual([0, 1, 2, 3, 4])
      source.end(Buffer.alloc(10, 9))
      yield* settle
      expect(bytesOf(yield* pull)).toBe(10)
      expect(yield* Effect.exit(pull)).toEqual(Exit.fail(Option.none()))
    }))

  it.scoped("a pull waits for data when nothing is there", () =>
    Effect.gen(function*() {
      const source = new PassThrough()
      const pull = yield* pullBody(source)
      const waiting = yield* Effect.fork(pull)
      yield* settle
      source.write(Buffer.from("abc"))
      const got = yield* waiting.await
      expect(Exit.isSuccess(got) && Buffer.concat(Chunk.toReadonlyArray(got.value)).toString()).toBe("abc")
    }))

  it.scoped("at most QUEUE_BYTES is read ahead of the pulls: then the source fills up and holds its writer back", () =>
    Effect.gen(function*() {
      const source = new PassThrough({ highWaterMark: 64 * 1024 })
      const pull = yield* pullBody(source)
      const piece = Buffer.alloc(64 * 1024, 1)
      let written = 0
      do written += piece.length
      while (source.write(piece))
      yield* settle
      // not pulled: the rest is still in the stream, and its writer was told to wait
      expect(written).toBeGreaterThan(QUEUE_BYTES)
      expect(source.readableLength).toBeGreaterThan(0)
      expect(source.writableNeedDrain).toBe(true)
      const drained = new Promise((resolve) => source.once("drain", resolve))
      let got = 0
      while (got < written) got += bytesOf(yield* pull)
      expect(got).toBe(written)
      yield* Effect.promise(() => drained)
      source.end()
      expect(yield* Effect.exit(pull)).toEqual(Exit.fail(Option.none()))
    }))

  it.scoped.each([
    { how: "fails", destroyWith: new Error("socket hang up"), message: /^socket hang up$/ },
    { how: "closes before its end (no error)", destroyWith: undefined, message: /closed before the body ended/ }
  ])("a source that $how gives a failure after the bytes pulled before it, never a quiet end", ({
    destroyWith,
    message
  }) =>
    Effect.gen(function*() {
      const source = new PassThrough()
      const pull = yield* pullBody(source)
      source.write(Buffer.alloc(100))
      yield* settle
      expect(bytesOf(yield* pull)).toBe(100)
      source.destroy(destroyWith)
      yield* settle
      const failed = yield* Effect.flip(pull)
      expect(Option.isSome(failed) && failed.value.message).toMatch(message)
    }))

  it.effect("closing the scope early destroys a source not read to its end", () =>
    Effect.gen(function*() {
      const source = new PassThrough()
      yield* Effect.scoped(Effect.flatMap(pullBody(source), () => Effect.sync(() => source.write("x"))))
      expect(source.destroyed).toBe(true)
    }))
})
