import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as GroupCommit from "../src/internal/groupCommit.js"

/** Commits of fibers woken by separate I/O callbacks of one event-loop turn (two expired timers). */
const commitsFromTwoCallbacks = (gather?: Effect.Effect<void>) =>
  Effect.gen(function*() {
    let writes = 0
    const group = GroupCommit.make(Effect.sync(() => writes++), gather)
    const woken = [yield* Deferred.make<void>(), yield* Deferred.make<void>()]
    const fibers = yield* Effect.forEach(woken, (d) => Effect.fork(Effect.zipRight(Deferred.await(d), group.commit)))
    yield* Effect.yieldNow()
    // Two timers of the same delay, set back to back, run in the same timers phase, each callback on its own.
    for (const d of woken) setTimeout(() => Deferred.unsafeDone(d, Effect.void), 0)
    yield* Fiber.joinAll(fibers)
    return writes
  })

describe("GroupCommit", () => {
  it.live("nextTurn: changes that separate callbacks of one event-loop turn lead to share one write", () =>
    Effect.gen(function*() {
      expect(yield* commitsFromTwoCallbacks(GroupCommit.nextTurn)).toBe(1)
    }))

  it.live("each commit returns after a write that started after its change", () =>
    Effect.gen(function*() {
      let state = 0
      let written = -1
      const group = GroupCommit.make(Effect.sync(() => (written = state)), GroupCommit.nextTurn)
      yield* Effect.forEach([1, 2, 3], (v) =>
        Effect.suspend(() => {
          state = v
          return group.commit
        }).pipe(Effect.tap(() => expect(written).toBeGreaterThanOrEqual(v))), { concurrency: "unbounded" })
      expect(written).toBe(3)
    }))
})
