/**
 * A request waiting out a Retry-After holds no slot: the client's own download slot and the caller's
 * (holdingSlot) serve other requests meanwhile, and are taken again before the retry. Against the
 * emulator over loopback; the client's clock is TestClock, so the waiting request cannot retry before
 * the test moves the clock, however fast or slow the machine.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type RouteName, type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { GraphClient, handleRetries, holdingSlot } from "../src/index.js"
import { clientLayer, collectBytes, meetingId, recordingId, tenant, transcriptId, vtt, WINDOW } from "./helpers.js"

let emu: RunningEmulator

beforeAll(async () => {
  emu = await startEmulator({ fixture: tenant(), pageSize: 2 })
})
afterAll(() => emu?.close())

/** Each request of `route` answered once with 429, Retry-After: 30 s. */
const refuseOnce = (route: RouteName) => {
  emu.setFaults({
    seed: 1,
    rules: [{ fault: "429-seconds", probability: 1, routes: [route] }],
    maxFaultsPerRequest: 1,
    retryAfterSeconds: 30
  })
  emu.resetCounters()
}

/**
 * `effect`, failing when it has not ended within 10 s of real time (the TestClock does not move by
 * itself): without the slot given back it would wait for the other request's Retry-After for ever.
 */
const soon = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  why = "the slot was not given back during the other's wait"
) =>
  Effect.raceFirst(
    // (disconnected: a loser waiting for a slot in an uninterruptible region must not hold up the race)
    Effect.disconnect(effect),
    Effect.flatMap(
      Effect.promise(() => new Promise((r) => setTimeout(r, 10_000))),
      () => Effect.dieMessage(`still waiting after 10 s: ${why}`)
    )
  )

/** Recording `i`'s whole body, through the client in context. */
const downloadRecording = (i: number) =>
  Effect.scoped(
    Effect.flatMap(
      Effect.flatMap(GraphClient, (api) =>
        api.recordingContent({ userId: WINDOW.organizerId }, meetingId(i), recordingId(i))),
      (c) =>
        collectBytes(c.stream)
    )
  )

/** Forks `effect` and waits until its first request has been told to wait (its retry announced). */
const forkUntilWaiting = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const waiting = yield* Deferred.make<void>()
    const fiber = yield* Effect.fork(
      effect.pipe(handleRetries(() => Deferred.succeed(waiting, undefined)))
    )
    yield* Deferred.await(waiting)
    return fiber
  })

describe("a request waiting to be retried holds no slot", () => {
  it.effect("a download told to wait 30 s gives the client's only download slot to another, and gets it back for its retry", () =>
    Effect.gen(function*() {
      refuseOnce("recordingContent")
      const api = yield* GraphClient
      const recording = yield* forkUntilWaiting(
        Effect.scoped(
          Effect.flatMap(
            api.recordingContent({ userId: WINDOW.organizerId }, meetingId(0), recordingId(0)),
            (c) => collectBytes(c.stream)
          )
        )
      )
      // the only download slot is free while the recording waits: the transcript is fetched meanwhile
      const text = yield* soon(
        Effect.scoped(
          Effect.flatMap(
            api.transcriptContentStream({ userId: WINDOW.organizerId }, meetingId(0), transcriptId(0)),
            (c) => collectBytes(c.stream)
          )
        )
      )
      expect(new TextDecoder().decode(text)).toBe(vtt(0))
      expect(emu.counters().byRoute["recordingContent"]).toBe(1)
      // its Retry-After passed, the recording takes the slot again and completes
      yield* TestClock.adjust("31 seconds")
      const bytes = yield* Fiber.join(recording)
      expect(bytes.length).toBeGreaterThan(0)
      expect(emu.counters().byRoute["recordingContent"]).toBe(2)
      expect(emu.counters().throttled).toBe(1)
    }).pipe(
      Effect.provide(clientLayer(emu, { policy: { maxConcurrentDownloads: 1, maxConcurrentRequests: 1 } }))
    ))

  it.effect("holdingSlot: a listing told to wait gives the caller's slot to another listing meanwhile; interrupted while waiting, it holds none", () =>
    Effect.gen(function*() {
      refuseOnce("getAllRecordings")
      const api = yield* GraphClient
      const slots = yield* Effect.makeSemaphore(1)
      const recordings = yield* forkUntilWaiting(
        Stream.runCollect(api.getAllRecordings(WINDOW)).pipe(holdingSlot(slots))
      )
      const transcripts = yield* soon(Stream.runCollect(api.getAllTranscripts(WINDOW)).pipe(holdingSlot(slots)))
      expect(Chunk.size(transcripts)).toBeGreaterThan(0)
      // interrupted during its wait, the listing leaves the slot free, given back once (two free
      // permits would mean a release of a permit it did not hold)
      yield* Fiber.interrupt(recordings)
      expect(yield* slots.withPermitsIfAvailable(1)(Effect.void)).toEqual(Option.some(undefined))
      expect(yield* slots.withPermitsIfAvailable(2)(Effect.void)).toEqual(Option.none())
    }).pipe(Effect.provide(clientLayer(emu))))
})

describe("a download interrupted while it waits for the shared budget's slot", () => {
  it.effect("gives the client's own download and request slots back (the next download is not blocked for ever)", () =>
    Effect.gen(function*() {
      emu.setFaults({ seed: 1, rules: [] })
      // One slot shared with "another runner", which holds it at first; waiting for it can be
      // interrupted (as the cluster's budget's wait can, even inside an uninterruptible acquire).
      const shared = yield* Effect.makeSemaphore(1)
      yield* shared.take(1)
      const waiting = yield* Deferred.make<void>()
      const budget = {
        take: Effect.void,
        throttled: () => Effect.void,
        requestSlot: Effect.interruptible(
          Effect.zipRight(Deferred.succeed(waiting, undefined), Effect.as(shared.take(1), shared.release(1)))
        )
      }
      // one client (one limiter) for both downloads, with a single download slot
      const bytes = yield* Effect.gen(function*() {
        const first = yield* Effect.fork(downloadRecording(0))
        yield* Deferred.await(waiting)
        yield* Fiber.interrupt(first)
        yield* shared.release(1)
        return yield* soon(downloadRecording(1))
      }).pipe(Effect.provide(clientLayer(emu, { budget, policy: { maxConcurrentDownloads: 1 } })))
      expect(bytes.length).toBeGreaterThan(0)
    }))
})

describe("a download interrupted while it gives the shared budget's slot back (a Retry-After wait)", () => {
  it.effect("still gives the client's own download and request slots back (the next download is not blocked for ever)", () =>
    Effect.gen(function*() {
      refuseOnce("recordingContent")
      const givingBack = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      let first = true
      const budget = {
        take: Effect.void,
        throttled: () => Effect.void,
        // the first lease's give-back is slow (the cluster's is a database round trip), the others instant
        requestSlot: Effect.sync(() => {
          if (!first) return Effect.void
          first = false
          return Effect.zipRight(Deferred.succeed(givingBack, undefined), Deferred.await(gate))
        })
      }
      // one client with a single download slot; the first download is told to wait, gives its slots back
      // for the wait and is interrupted in the middle of that
      const bytes = yield* Effect.gen(function*() {
        const refused = yield* Effect.fork(downloadRecording(0))
        yield* Deferred.await(givingBack)
        yield* Fiber.interrupt(refused)
        yield* Deferred.succeed(gate, undefined)
        emu.setFaults({ seed: 1, rules: [] })
        return yield* soon(downloadRecording(1), "the interrupted download's own slots were not given back")
      }).pipe(Effect.provide(clientLayer(emu, { budget, policy: { maxConcurrentDownloads: 1 } })))
      expect(bytes.length).toBeGreaterThan(0)
    }))
})

describe("a download queued for the client's download slot", () => {
  it.effect("can be interrupted while it waits: it leaves without asking Graph, and the download holding the slot goes on", () =>
    Effect.gen(function*() {
      emu.setFaults({ seed: 1, rules: [] })
      emu.resetCounters()
      const api = yield* GraphClient
      const opened = yield* Deferred.make<void>()
      const finish = yield* Deferred.make<void>()
      const recording = (i: number, hold: boolean) =>
        Effect.scoped(
          Effect.flatMap(
            api.recordingContent({ userId: WINDOW.organizerId }, meetingId(i), recordingId(i)),
            (c) =>
              hold
                ? Deferred.succeed(opened, undefined).pipe(
                  Effect.zipRight(Deferred.await(finish)),
                  Effect.zipRight(collectBytes(c.stream))
                )
                : collectBytes(c.stream)
          )
        )
      // the first download holds the only download slot until the test lets it read its body
      const holder = yield* Effect.fork(recording(0, true))
      yield* Deferred.await(opened)
      const queued = yield* Effect.fork(recording(1, false))
      // (until it waits on the slot: a fiber suspended with nothing else to wait for)
      while ((yield* queued.status)._tag !== "Suspended") yield* Effect.yieldNow()
      yield* soon(Fiber.interrupt(queued), "the interrupted download still waits for the slot")
      expect(emu.counters().byRoute["recordingContent"]).toBe(1)
      yield* Deferred.succeed(finish, undefined)
      expect((yield* Fiber.join(holder)).length).toBeGreaterThan(0)
      // the slot is not lost to the interrupted waiter: the next download gets it
      expect((yield* soon(recording(1, false))).length).toBeGreaterThan(0)
      expect(emu.counters().byRoute["recordingContent"]).toBe(2)
    }).pipe(Effect.provide(clientLayer(emu, { policy: { maxConcurrentDownloads: 1 } }))))
})
