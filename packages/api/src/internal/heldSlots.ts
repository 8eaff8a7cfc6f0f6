/**
 * The slots held around a fiber's Graph requests (see GraphSlot), and how a request gives them back
 * while it waits to be retried.
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"

/** One permit of `semaphore` held around requests; `held`: whether it is taken now (a wait gives it back). */
interface HeldSlot {
  readonly semaphore: Effect.Semaphore
  held: boolean
}

/** The slots around the current fiber's requests, outermost (taken first) first. */
const currentHeldSlots: FiberRef.FiberRef<ReadonlyArray<HeldSlot>> = globalValue(
  Symbol.for("@meeting-artifacts/api/GraphSlot/currentHeldSlots"),
  () => FiberRef.unsafeMake<ReadonlyArray<HeldSlot>>([])
)

/** Takes `slot`'s permit and marks it held, as one step an interruption cannot split. */
const take = (slot: HeldSlot): Effect.Effect<void> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.map(restore(slot.semaphore.take(1)), () => {
      slot.held = true
    })
  )

/** Gives `slot`'s permit back if it is held. */
const give = (slot: HeldSlot): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (!slot.held) return Effect.void
    slot.held = false
    return Effect.asVoid(slot.semaphore.release(1))
  })

/**
 * `self` holding one permit of `semaphore`, given back while its requests wait (see GraphSlot). Written
 * on the primitives (one mask, the FiberRef set and put back by hand) rather than `ensuring` around
 * `locallyWith`: each of those masks and matches again, and around every download of a tiny artifact
 * that was ~60 run-loop steps.
 */
export const heldSlot = <A, E, R>(self: Effect.Effect<A, E, R>, semaphore: Effect.Semaphore): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) => {
    const slot: HeldSlot = { semaphore, held: false }
    return Effect.flatMap(restore(semaphore.take(1)), () => {
      slot.held = true
      return Effect.flatMap(FiberRef.getAndUpdate(currentHeldSlots, (slots) => [...slots, slot]), (around) => {
        // (uninterruptible here: the mask covers both steps)
        const leave = Effect.zipRight(FiberRef.set(currentHeldSlots, around), give(slot))
        return Effect.matchCauseEffect(restore(self), {
          onFailure: (cause) => Effect.zipRight(leave, Effect.failCause(cause)),
          onSuccess: (a) => Effect.as(leave, a)
        })
      })
    })
  })

/** Slots a request holds for all of its attempts (a content download's own), given back while it waits. */
export interface RequestSlots {
  readonly giveBack: Effect.Effect<void>
  readonly takeAgain: Effect.Effect<void>
}

/**
 * Waits `ms` before a retry without holding a slot: the request's own (`own`, innermost) and those held
 * around it (see GraphSlot) are given back, innermost first, and taken again in the order they were
 * first taken (so two waiting requests never hold one slot each of what the other needs).
 */
export const waitWithoutSlots = (ms: number, own: RequestSlots | undefined): Effect.Effect<void> =>
  Effect.flatMap(FiberRef.get(currentHeldSlots), (around) => {
    const given = around.filter((slot) => slot.held)
    if (given.length === 0 && own === undefined) return Effect.sleep(ms)
    return Effect.gen(function*() {
      if (own !== undefined) yield* own.giveBack
      for (let i = given.length - 1; i >= 0; i--) yield* give(given[i]!)
      yield* Effect.sleep(ms)
      for (const slot of given) yield* take(slot)
      if (own !== undefined) yield* own.takeAgain
    })
  })
