/**
 * The progress channel of a run: an unbounded `PubSub` of `ProgressEvent`s.
 * `sync` publishes to it when the service is present and is silent otherwise,
 * so library callers opt in by providing `Progress.layer` and consuming
 * `Progress.events`.
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { ProgressEvent } from "./ProgressEvent.js"

export interface ProgressService {
  readonly publish: (event: ProgressEvent) => Effect.Effect<void>
  /**
   * Subscribe now (so no event published after this point is missed). The stream ends once it has
   * delivered every event published before `end`; a subscription made after `end` is empty.
   */
  readonly subscribe: Effect.Effect<Stream.Stream<ProgressEvent>, never, Scope.Scope>
  /**
   * Ends the channel: each subscription's stream ends after the events published before this, so a
   * consumer that runs its stream to the end has seen them all (with no wait for a timer). Events
   * published later are dropped. Idempotent.
   */
  readonly end: Effect.Effect<void>
  /** Completes when `end` has run: for a consumer to cut a rest short (its stream's end is near). */
  readonly ended: Effect.Effect<void>
}

/** The marker `end` publishes behind the last event; subscriptions stop at it (never delivered). */
const END = Symbol.for("@meeting-artifacts/pipeline/Progress/end")
type Item = ProgressEvent | typeof END

const isEvent = (item: Item): item is ProgressEvent => item !== END

/**
 * The synchronous publish of each service `Progress.make` made (keyed by the service): `emit` calls it
 * in the step that finds the service instead of running the service's `publish` effect after it.
 */
const offers = new WeakMap<ProgressService, (event: ProgressEvent) => void>()

export class Progress extends Context.Tag("@meeting-artifacts/pipeline/Progress")<Progress, ProgressService>() {
  static readonly make: Effect.Effect<ProgressService> = Effect.zipWith(
    PubSub.unbounded<Item>(),
    Deferred.make<void>(),
    (hub, ended): ProgressService => {
      let isEnded = false
      // (an unbounded hub takes every event at once: one step, where `PubSub.publish` took several per event)
      const offer = (event: ProgressEvent) => {
        if (!isEnded) hub.unsafeOffer(event)
      }
      const service: ProgressService = {
        publish: (event) => Effect.sync(() => offer(event)),
        subscribe: Effect.map(PubSub.subscribe(hub), (queue) =>
          // Nothing is published after the marker: an empty subscription made after `end` would wait for ever.
          isEnded && Option.getOrElse(queue.unsafeSize(), () => 0) === 0
            ? Stream.empty
            : Stream.takeWhile(Stream.fromQueue(queue), isEvent)),
        end: Effect.suspend(() => {
          if (isEnded) return Effect.void
          isEnded = true
          hub.unsafeOffer(END)
          return Deferred.succeed(ended, undefined)
        }),
        ended: Deferred.await(ended)
      }
      offers.set(service, offer)
      return service
    }
  )

  static readonly layer: Layer.Layer<Progress> = Layer.effect(Progress, Progress.make)

  /** Every event published after the stream starts, until `end` (or until the scope of the layer closes). */
  static readonly events: Stream.Stream<ProgressEvent, never, Progress> = Stream.unwrapScoped(
    Effect.flatMap(Progress, (p) => p.subscribe)
  )
}

/**
 * Publishes when a `Progress` service is provided; a no-op otherwise. One run-loop step for a service of
 * `Progress.make` (its context read and its event offered at once): a sync emits several per artifact.
 */
export const emit = (event: ProgressEvent): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    const progress = Context.getOption(fiber.currentContext, Progress)
    if (progress._tag === "None") return Effect.void
    const offer = offers.get(progress.value)
    if (offer === undefined) return progress.value.publish(event)
    offer(event)
    return Effect.void
  })
