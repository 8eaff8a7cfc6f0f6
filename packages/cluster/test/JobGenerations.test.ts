/**
 * A job's set-up that failed is replaced once, by the first step that saw it fail: a step that shared
 * the failed set-up and resumes late must not drop a good set-up another step built since (that would
 * leave two live set-ups of one job on a runner: two download-slot semaphores, two budgets).
 * Pure Effect: the RcMap and its lookups are in memory; a ControlledScheduler makes the late step late.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as RcMap from "effect/RcMap"
import * as Scheduler from "effect/Scheduler"
import * as Scope from "effect/Scope"
import { expect, it } from "vitest"
import type { JobServices } from "../src/internal/jobResources.js"
import * as JobResources from "../src/internal/jobResources.js"

it("a step failing late on a shared failed set-up keeps the good set-up built since", async () => {
  let lookups = 0
  const built = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const postgresBack = yield* Deferred.make<void>()
    const jobs = yield* RcMap.make({
      lookup: (_: string) =>
        Effect.suspend(() => {
          lookups++
          return lookups === 1
            ? Deferred.await(postgresBack).pipe(
              Effect.zipRight(Effect.fail(JobResources.setupFatal("postgres down")))
            )
            : Effect.succeed({ build: lookups } as unknown as JobServices)
        }),
      idleTimeToLive: "1 minute"
    })
    const generations = new Map<string, number>()
    const forJob = () => JobResources.forJobIn(jobs, generations, "job")
    const late = new Scheduler.ControlledScheduler()
    const a = yield* Effect.fork(Effect.exit(Effect.scoped(forJob())))
    // b shares a's set-up; its fiber resumes only when `late` is stepped
    const b = yield* Effect.fork(Effect.exit(Effect.scoped(forJob())).pipe(Effect.withScheduler(late)))
    for (let i = 0; i < 20; i++) {
      late.step()
      yield* Effect.yieldNow()
    }
    yield* Deferred.succeed(postgresBack, undefined)
    expect(Exit.isFailure(yield* Fiber.join(a))).toBe(true)
    // c: the next step, after a's failure, builds a good set-up and holds it
    const cScope = yield* Scope.make()
    const c = yield* Scope.extend(forJob(), cScope)
    // now b resumes, fails on the old set-up, and must leave c's alone
    while ((yield* Fiber.poll(b))._tag === "None") {
      late.step()
      yield* Effect.yieldNow()
    }
    expect(Exit.isFailure(yield* Fiber.join(b))).toBe(true)
    const d = yield* Effect.scoped(forJob())
    yield* Scope.close(cScope, Exit.void)
    return { c, d }
  })))
  expect(built.d).toBe(built.c)
  expect(lookups).toBe(2)
})
