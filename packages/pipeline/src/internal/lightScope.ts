/**
 * `Effect.scoped` for the one scope of each download: a new scope put into the fiber's context by hand
 * for `self` and the context put back as it ends (then the scope closed with its exit), where
 * `Effect.scoped` provides it through `Effect.provideContext` (a FiberRef `locally`: an acquire-use-release
 * of its own). Same order of events: the context is restored before the scope's finalizers run.
 * ~37 run-loop steps for a scope with one finalizer instead of ~54.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Scope from "effect/Scope"

export const lightScoped = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, Exclude<R, Scope.Scope>> =>
  Effect.flatMap(Scope.make(), (scope) =>
    FiberRef.getWith(FiberRef.currentContext, (context) =>
      Effect.onExit(
        Effect.zipRight(
          FiberRef.set(FiberRef.currentContext, Context.add(context, Scope.Scope, scope)),
          self as Effect.Effect<A, E, Exclude<R, Scope.Scope>>
        ),
        (exit) => Effect.zipRight(FiberRef.set(FiberRef.currentContext, context), Scope.close(scope, exit))
      )))
