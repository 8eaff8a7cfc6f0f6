/**
 * The progress channel of a run: an unbounded `PubSub` of `ProgressEvent`s.
 * `sync` publishes to it when the service is present and is silent otherwise,
 * so library callers opt in by providing `Progress.layer` and consuming
 * `Progress.events`.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { ProgressEvent } from "./ProgressEvent.js"

export interface ProgressService {
  readonly publish: (event: ProgressEvent) => Effect.Effect<void>
  /** Subscribe now (so no event published after this point is missed). */
  readonly subscribe: Effect.Effect<Stream.Stream<ProgressEvent>, never, Scope.Scope>
}

export class Progress extends Context.Tag("@meeting-artifacts/pipeline/Progress")<Progress, ProgressService>() {
  static readonly make: Effect.Effect<ProgressService> = Effect.map(PubSub.unbounded<ProgressEvent>(), (hub) => ({
    // (an unbounded hub takes every event at once: one step, where `PubSub.publish` took several per event)
    publish: (event) =>
      Effect.sync(() => {
        hub.unsafeOffer(event)
      }),
    subscribe: Effect.map(PubSub.subscribe(hub), (queue) => Stream.fromQueue(queue))
  }))

  static readonly layer: Layer.Layer<Progress> = Layer.effect(Progress, Progress.make)

  /** Every event published after the stream starts, until the scope of the layer closes. */
  static readonly events: Stream.Stream<ProgressEvent, never, Progress> = Stream.unwrapScoped(
    Effect.flatMap(Progress, (p) => p.subscribe)
  )
}

/** Publishes when a `Progress` service is provided; a no-op otherwise. */
export const emit = (event: ProgressEvent): Effect.Effect<void> =>
  Effect.contextWithEffect((context: Context.Context<never>) => {
    const progress = Context.getOption(context, Progress)
    return progress._tag === "Some" ? progress.value.publish(event) : Effect.void
  })
