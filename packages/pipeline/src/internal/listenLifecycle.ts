/**
 * The `listen` job's lifecycle events (Graph's `reauthorizationRequired`, `subscriptionRemoved`, `missed`):
 * queued by the endpoint without ever making it wait, handled one at a time by a loop.
 */
import type { LifecycleEvent } from "@meeting-artifacts/api"
import type { CheckpointStore } from "@meeting-artifacts/sinks"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import { ListenEvent } from "../ListenEvent.js"
import { SyncFatalError } from "../SyncError.js"

type Subscription = CheckpointStore.ListenSubscription

export interface LifecycleDeps {
  /** The subscription as it is now (an event queued earlier may carry an older copy), if it still exists. */
  readonly current: (id: string) => Subscription | undefined
  readonly reauthorize: (s: Subscription) => Effect.Effect<unknown, { readonly message: string }>
  readonly recreate: (s: Subscription) => Effect.Effect<unknown, { readonly message: string }>
  readonly catchUp: (reason: string) => Effect.Effect<void, SyncFatalError>
  readonly event: (e: ListenEvent) => void
}

/** Every `missed` is one catch-up of everything; the other events are per subscription. */
const keyOf = (s: Subscription, e: LifecycleEvent) => e === "missed" ? e : `${e}:${s.id}`

/**
 * `offer` queues an event unless the same one is already waiting (so the queue holds at most one entry
 * per subscription and event, however many arrive during a long catch-up); `loop` handles them in order.
 * A fatal error stops the loop (and the job); any other failure is a warning.
 */
export const make = (deps: LifecycleDeps) =>
  Effect.gen(function*() {
    const work = yield* Queue.unbounded<readonly [Subscription, LifecycleEvent]>()
    const waiting = new Set<string>()

    const offer = (s: Subscription, e: LifecycleEvent): Effect.Effect<void> =>
      Effect.suspend(() => {
        const key = keyOf(s, e)
        if (waiting.has(key)) return Effect.void
        waiting.add(key)
        return Effect.asVoid(Queue.offer(work, [s, e]))
      })

    const handle = ([s, e]: readonly [Subscription, LifecycleEvent]): Effect.Effect<void, SyncFatalError> =>
      Effect.suspend((): Effect.Effect<unknown, SyncFatalError | { readonly message: string }> => {
        // Taken: the same event arriving from now on needs handling again.
        waiting.delete(keyOf(s, e))
        const now = deps.current(s.id) ?? s
        return e === "reauthorizationRequired"
          ? deps.reauthorize(now)
          : e === "subscriptionRemoved"
          ? Effect.zipRight(deps.recreate(now), deps.catchUp("subscriptionRemoved"))
          : deps.catchUp("missed")
      }).pipe(
        Effect.asVoid,
        Effect.catchAll((err) =>
          err instanceof SyncFatalError
            ? Effect.fail(err)
            : Effect.sync(() => deps.event(ListenEvent.Warning({ message: `${e}: ${err.message}` })))
        )
      )

    const loop = Queue.take(work).pipe(Effect.flatMap(handle), Effect.forever)
    return { offer, loop }
  })
