/**
 * The bookkeeping of early downloads (pure Effect, no I/O): a cancelled download is waited for before
 * its key is handed to a set, a download interrupted before it began frees its slot, and artifacts
 * listed while the slots are full start as slots free, in listing order.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { type DownloadResult, EarlyDownloads } from "../src/internal/earlyDownloads.js"

const staged = (file: string): DownloadResult =>
  Either.right({
    staged: { file, bytes: 3, sha256: null, received: 3, contentType: null },
    requested: true,
    cues: null
  })

/** Early downloads with one slot, and downloads that log when they start (then wait for `wait`). */
const oneSlotLogged = Effect.gen(function*() {
  const early = new EarlyDownloads(yield* Scope.make(), 1)
  const log: Array<string> = []
  const gate = yield* Deferred.make<void>()
  const download = (key: string, wait: Effect.Effect<void> = Effect.void) =>
    Effect.sync(() => log.push(`${key} started`)).pipe(Effect.zipRight(wait), Effect.as(staged(`${key}.done`)))
  return { early, log, gate, download }
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

  it.effect("artifacts listed while the slots are full start as the downloads before them end, in listing order", () =>
    Effect.gen(function*() {
      const { download, early, gate, log } = yield* oneSlotLogged
      const settle = Effect.repeatN(Effect.yieldNow(), 20)
      yield* early.start("a", "organizer-a", download("a", Deferred.await(gate)))
      // no room: waiting in the backlog, not dropped
      yield* early.start("b", "organizer-a", download("b"))
      yield* early.start("c", "organizer-b", download("c"))
      yield* early.start("d", "organizer-a", download("d"))
      yield* settle
      expect(log).toEqual(["a started"])
      // a set takes "c" before its turn: it is the set's (null: the set downloads it), never started here
      expect(yield* early.take("c")).toBeNull()
      // "a" ends: "b" starts in its place, then "d" after it, without any set asking
      yield* Deferred.succeed(gate, undefined)
      yield* settle
      expect(log).toEqual(["a started", "b started", "d started"])
      const d = yield* early.take("d")
      expect(d !== null && Either.isRight(d) ? d.right.staged.file : null).toBe("d.done")
    }))

  it.effect("a cancelled organizer's artifacts waiting in the backlog never start", () =>
    Effect.gen(function*() {
      const { download, early, gate, log } = yield* oneSlotLogged
      yield* early.start("a", "organizer-b", download("a", Deferred.await(gate)))
      yield* early.start("b", "organizer-a", download("b"))
      yield* early.start("c", "organizer-b", download("c"))
      yield* early.cancel("organizer-a")
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      expect(log).toEqual(["a started", "c started"])
      // the cancelled one is no one's: a set downloads it itself
      expect(yield* early.take("b")).toBeNull()
    }))

  it.effect("a download interrupted before it began still hands its slot to the backlog", () =>
    Effect.gen(function*() {
      const { download, early, log } = yield* oneSlotLogged
      const done = yield* Deferred.make<void>()
      yield* early.start("a", "organizer-a", download("a"))
      yield* early.start("b", "organizer-b", download("b", Deferred.succeed(done, undefined)))
      // cancelled at once: "a" may never take its first step
      yield* early.cancel("organizer-a")
      // "b" starts in its place without any set asking (before: it waited, with the slot free, for its set)
      yield* Deferred.await(done)
      expect(log).toContain("b started")
      expect(early.hasRoom()).toBe(true)
    }))

  it.effect("a download started from the backlog can still be interrupted (a request's timeout stops a stalled body)", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const early = new EarlyDownloads(scope, 1)
      yield* early.start("a", "organizer-a", Effect.succeed(staged("a.done")).pipe(Effect.delay("10 millis")))
      // a body that never ends, given up after a second (as a request's timeout does: by interrupting it)
      const stalled = Effect.never.pipe(
        Effect.timeoutTo({ duration: "1 second", onTimeout: () => null, onSuccess: () => null })
      )
      yield* early.start("b", "organizer-a", stalled)
      yield* TestClock.adjust("10 millis")
      const b = yield* Effect.fork(early.take("b"))
      yield* TestClock.adjust("1 second")
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      expect(Option.isSome(yield* Fiber.poll(b))).toBe(true)
    }))
})
