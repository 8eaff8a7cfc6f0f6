/**
 * The client's request and download slots: a counting semaphore whose `take` is one run-loop step while
 * a permit is free (Effect's `Semaphore.take` suspends on an interruptible async every time: ~10 steps,
 * twice per content request). Waiters are served first come, first served: a permit given back while
 * some wait goes straight to the first of them, so a newcomer never takes it before them.
 */
import * as Effect from "effect/Effect"

interface Waiter {
  readonly resume: (effect: Effect.Effect<void>) => void
  /** The permit was passed to it (it may have been interrupted meanwhile: then its canceler gives it back). */
  granted: boolean
}

export class Slots {
  private taken = 0
  private readonly waiters: Array<Waiter> = []

  constructor(readonly permits: number) {}

  /** Permits not taken. */
  get free(): number {
    return this.permits - this.taken
  }

  /** Waits for a permit and takes it; interruptible while it waits (nothing is taken then). */
  readonly take: Effect.Effect<void> = Effect.suspend(() => {
    if (this.taken < this.permits && this.waiters.length === 0) {
      this.taken++
      return Effect.void
    }
    return Effect.async<void>((resume) => {
      const waiter: Waiter = { resume, granted: false }
      this.waiters.push(waiter)
      return Effect.sync(() => {
        if (waiter.granted) this.unsafeRelease()
        else {
          const at = this.waiters.indexOf(waiter)
          if (at >= 0) this.waiters.splice(at, 1)
        }
      })
    })
  })

  /** Gives one permit back (to the first waiter, if any). */
  unsafeRelease(): void {
    const next = this.waiters.shift()
    if (next === undefined) {
      this.taken--
      return
    }
    next.granted = true
    next.resume(Effect.void)
  }

  readonly release: Effect.Effect<void> = Effect.sync(() => this.unsafeRelease())

  /** `self` holding one permit, given back however it ends. */
  withPermit<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.zipRight(restore(this.take), Effect.ensuring(restore(self), this.release))
    )
  }
}
