import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"

/**
 * Builds a layer into the current scope, building it again (after a short wait) when it fails or dies:
 * processes of a cluster starting together on a fresh database race to create the same tables, and
 * the losers' `CREATE TABLE IF NOT EXISTS` fails once (the cluster's storage layers turn that into a
 * defect). Each attempt has its own scope, closed when it fails, so nothing of it lingers.
 */
export const buildRetrying = <A, E, R>(
  layer: Layer.Layer<A, E, R>,
  attempts = 6
): Effect.Effect<Context.Context<A>, E, R | Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    for (let attempt = 1;; attempt++) {
      const child = yield* Scope.fork(scope, ExecutionStrategy.sequential)
      const exit = yield* Effect.exit(Layer.buildWithScope(layer, child))
      if (Exit.isSuccess(exit)) return exit.value
      yield* Scope.close(child, exit)
      if (attempt >= attempts || Exit.isInterrupted(exit)) return yield* exit
      yield* Effect.sleep(100 * 2 ** attempt)
    }
  })
