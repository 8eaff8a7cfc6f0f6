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
 *
 * `gather` is what a rewrite waits for before it takes its snapshot: by default one yield (the fibers
 * woken by the last rewrite add their changes). A writer that never waits for I/O (SQLite's, which
 * is synchronous) is never in flight when the next change arrives, so a yield groups nothing there;
 * `nextTurn` waits for the end of the event loop's current turn instead, so every change the I/O
 * callbacks of that turn led to shares the write.
 */
export const make = <E>(
  write: Effect.Effect<void, E>,
  gather: Effect.Effect<void> = Effect.yieldNow()
): { readonly commit: Effect.Effect<void, E> } => {
  let version = 0
  let written = 0
  let inFlight: Deferred.Deferred<void> | null = null
  const flush = (want: number): Effect.Effect<void, E> =>
    Effect.suspend(() => {
      if (written >= want) return Effect.void
      if (inFlight !== null) return Effect.zipRight(Deferred.await(inFlight), flush(want))
      const done = Deferred.unsafeMake<void>(FiberId.none)
      inFlight = done
      // Wait (`gather`) before taking the snapshot: fibers woken by the last
      // rewrite (and the ones they start) add their changes to this one.
      return Effect.uninterruptible(
        gather.pipe(
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

/** A `gather` for `make`: the check phase of the event loop's current turn (after its I/O callbacks). */
export const nextTurn: Effect.Effect<void> = Effect.async<void>((resume) => {
  const timer = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(timer))
})
