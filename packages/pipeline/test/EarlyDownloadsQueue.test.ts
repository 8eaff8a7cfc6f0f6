/**
 * The bookkeeping of early downloads (pure Effect, no I/O): a cancelled download is waited for before
 * its key is handed to a set, and a download interrupted before it began frees its slot.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Scope from "effect/Scope"
import { type DownloadResult, EarlyDownloads } from "../src/internal/earlyDownloads.js"

const staged = (file: string): DownloadResult =>
  Either.right({
    staged: { file, bytes: 3, sha256: null, received: 3, contentType: null },
    requested: true
  })

describe("EarlyDownloads", () => {
  it.live("a set's take after a cancel waits until the cancelled download has stopped", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const early = new EarlyDownloads(scope, 4)
      const log: Array<string> = []
      const started = yield* Deferred.make<void>()
      const stopping = yield* Deferred.make<void>()
      // a download that takes a while to let go of its files once interrupted
      const download = Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
        Effect.onInterrupt(() =>
          Deferred.succeed(stopping, undefined).pipe(
            Effect.zipRight(Effect.sleep("50 millis")),
            Effect.zipRight(Effect.sync(() => log.push("download stopped")))
          )
        )
      )
      yield* early.start("k", "organizer-a", download as Effect.Effect<DownloadResult>)
      yield* Deferred.await(started)
      // another organizer's set asks for the key while the cancel is still tearing the download down
      yield* Effect.fork(early.cancel("organizer-a"))
      yield* Deferred.await(stopping)
      const result = yield* early.take("k")
      log.push("set took the key")
      expect(result).toBeNull()
      expect(log).toEqual(["download stopped", "set took the key"])
    }))

  it.effect("a download that finished before its organizer was cancelled is still used by a set", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const early = new EarlyDownloads(scope, 4)
      yield* early.start("k", "organizer-a", Effect.succeed(staged("k.done")))
      yield* Effect.yieldNow()
      yield* early.cancel("organizer-a")
      const result = yield* early.take("k")
      expect(result !== null && Either.isRight(result) ? result.right.staged.file : null).toBe("k.done")
    }))

  it.effect("a download interrupted before it began frees its slot and answers its take", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const early = new EarlyDownloads(scope, 1)
      // cancelled right away: the fiber may be interrupted before its first step
      yield* early.start("a", "organizer-a", Effect.succeed(staged("a.done")).pipe(Effect.delay("1 second")))
      yield* early.cancel("organizer-a")
      expect(yield* early.take("a")).toBeNull()
      // the one slot is free again: a second download starts and is taken
      yield* early.start("b", "organizer-b", Effect.succeed(staged("b.done")))
      const b = yield* early.take("b")
      expect(b !== null && Either.isRight(b) ? b.right.staged.file : null).toBe("b.done")
    }))
})
