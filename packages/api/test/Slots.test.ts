/**
 * The client's request and download slots (internal/slots.ts): a permit is taken at once while one is
 * free, a freed permit goes to the first waiter (never to a newcomer), and a waiter that is interrupted
 * holds nothing afterwards, also when the permit reached it as it was interrupted.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { Slots } from "../src/internal/slots.js"

/** Lets every forked fiber run until it waits. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

describe("Slots", () => {
  it.effect("takes a free permit at once and gives it back", () =>
    Effect.gen(function*() {
      const slots = new Slots(2)
      yield* slots.take
      yield* slots.take
      expect(slots.free).toBe(0)
      yield* slots.release
      expect(slots.free).toBe(1)
    }))

  it.effect("a freed permit goes to the waiters in the order they came, not to a newcomer", () =>
    Effect.gen(function*() {
      const slots = new Slots(1)
      const order: Array<string> = []
      yield* slots.take
      const waiter = (name: string) => Effect.fork(Effect.zipRight(slots.take, Effect.sync(() => order.push(name))))
      const a = yield* waiter("a")
      yield* settle
      const b = yield* waiter("b")
      yield* settle
      yield* slots.release
      // a newcomer asking right after the release waits behind b
      const c = yield* waiter("c")
      yield* settle
      expect(order).toEqual(["a"])
      yield* slots.release
      yield* settle
      yield* slots.release
      yield* Fiber.join(a)
      yield* Fiber.join(b)
      yield* Fiber.join(c)
      expect(order).toEqual(["a", "b", "c"])
      expect(slots.free).toBe(0)
    }))

  it.effect("an interrupted waiter takes nothing", () =>
    Effect.gen(function*() {
      const slots = new Slots(1)
      yield* slots.take
      const waiting = yield* Effect.fork(slots.take)
      yield* settle
      yield* Fiber.interrupt(waiting)
      yield* slots.release
      expect(slots.free).toBe(1)
    }))

  it.effect("a permit that reaches a waiter as it is interrupted is given back (withPermit)", () =>
    Effect.gen(function*() {
      const slots = new Slots(1)
      yield* slots.take
      const ran = yield* Deferred.make<void>()
      const waiting = yield* Effect.fork(slots.withPermit(Deferred.succeed(ran, undefined)))
      yield* settle
      // the release passes the permit to the waiter and the interruption follows in the same step
      yield* Effect.sync(() => {
        slots.unsafeRelease()
        waiting.unsafeInterruptAsFork(waiting.id())
      })
      yield* Fiber.await(waiting)
      expect(slots.free).toBe(1)
      // and the next one takes it at once
      yield* slots.take
      expect(slots.free).toBe(0)
    }))
})
