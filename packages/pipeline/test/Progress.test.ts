import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { Progress, ProgressEvent } from "../src/index.js"

const bytes = (n: number) => ProgressEvent.ArtifactBytes({ kind: "recording", id: `a${n}`, bytes: n })

describe("Progress", () => {
  it.effect("end: every subscription delivers the events published before it, then ends", () =>
    Effect.gen(function*() {
      const progress = yield* Progress.make
      const first = yield* progress.subscribe
      const second = yield* progress.subscribe
      // one consumer already waiting on an empty subscription, the other not started yet
      const waiting = yield* Effect.fork(Stream.runCollect(first))
      yield* Effect.yieldNow()
      yield* progress.publish(bytes(1))
      yield* progress.publish(bytes(2))
      yield* progress.end
      yield* progress.publish(bytes(3))
      yield* progress.end
      const ids = (c: Chunk.Chunk<ProgressEvent>) => Chunk.toReadonlyArray(c).map((e) => (e as { id: string }).id)
      expect(ids(yield* Fiber.join(waiting))).toEqual(["a1", "a2"])
      expect(ids(yield* Stream.runCollect(second))).toEqual(["a1", "a2"])
      // made after the end: nothing more will come, so it is empty rather than waiting for ever
      expect(ids(yield* Stream.runCollect(yield* progress.subscribe))).toEqual([])
      yield* progress.ended
    }).pipe(Effect.scoped))
})
