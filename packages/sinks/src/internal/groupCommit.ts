import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"

/**
 * Group commit (a file rewritten whole, a batch of rows): `commit` marks the
 * in-memory state changed and returns once a write that started after the change is done.
 * One rewrite at a time; changes that arrive while one is in flight wait for
 * it, then the first waiter rewrites for all of them. (A semaphore is not
 * enough: a newcomer can take a freed permit before the woken waiters run, so
 * each rewrite would carry one change and the waiters starve.)
 *
 * `write` must read the state when it runs. It runs uninterruptibly: an
 * abandoned rewrite could otherwise rename older text over a newer one.
 */
export const make = <E>(write: Effect.Effect<void, E>): { readonly commit: Effect.Effect<void, E> } => {
  let version = 0
  let written = 0
  let inFlight: Deferred.Deferred<void> | null = null
  const flush = (want: number): Effect.Effect<void, E> =>
    Effect.suspend(() => {
      if (written >= want) return Effect.void
      if (inFlight !== null) return Effect.zipRight(Deferred.await(inFlight), flush(want))
      const done = Deferred.unsafeMake<void>(FiberId.none)
      inFlight = done
      // Yield once before taking the snapshot: fibers woken by the last
      // rewrite (and the ones they start) add their changes to this one.
      return Effect.uninterruptible(
        Effect.yieldNow().pipe(
          Effect.zipRight(Effect.suspend(() => {
            const v = version
            return write.pipe(
              Effect.tap(() => {
                written = Math.max(written, v)
              })
            )
          })),
          Effect.ensuring(Effect.suspend(() => {
            inFlight = null
            return Deferred.succeed(done, undefined)
          }))
        )
      )
    })
  return { commit: Effect.suspend(() => flush(++version)) }
}
