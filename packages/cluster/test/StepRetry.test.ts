/**
 * How a runner retries its steps (internal/stepRetry.ts), on the test clock: a storage failure that
 * passes is retried until the step succeeds; a Graph fatal answer or the runner's own set-up is not retried; a defect becomes a
 * fatal error (so it ends the run as failed) once the retries are spent. And how workflow messages are sent
 * again while the cluster's storage is unreachable (`throughStorageOutage`).
 */
import { PersistenceError } from "@effect/cluster/ClusterError"
import { describe, expect, it } from "@effect/vitest"
import { SyncFatalError } from "@meeting-artifacts/pipeline"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { RUNNER_SETUP_CODE } from "../src/internal/jobResources.js"
import { retryStep, throughStorageOutage } from "../src/internal/stepRetry.js"

const fatal = (status: number | null) =>
  new SyncFatalError({
    message: status === null ? "connection refused" : "rejected",
    status,
    code: null,
    requestId: null,
    fix: null
  })

/** A step that runs `body(attempt)` on each attempt; returns the step and its attempt count. */
const counted = <A>(body: (attempt: number) => Effect.Effect<A, SyncFatalError>) => {
  let attempts = 0
  return { step: Effect.suspend(() => body(++attempts)), attempts: () => attempts }
}

describe("retryStep", () => {
  it.effect("retries a storage failure until the step succeeds", () =>
    Effect.gen(function*() {
      const s = counted((n) => (n < 4 ? Effect.fail(fatal(null)) : Effect.succeed("done")))
      const fiber = yield* Effect.fork(retryStep("set/r:1", s.step))
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toBe("done")
      expect(s.attempts()).toBe(4)
    }))

  it.effect("does not retry Graph's fatal answers", () =>
    Effect.gen(function*() {
      const s = counted(() => Effect.fail(fatal(401)))
      const exit = yield* Effect.exit(retryStep("discover/u1", s.step))
      expect(exit).toStrictEqual(Exit.fail(fatal(401)))
      expect(s.attempts()).toBe(1)
    }))

  it.effect("does not retry a runner's own set-up (a credential variable it lacks)", () =>
    Effect.gen(function*() {
      const lacking = new SyncFatalError({
        message: "TOKEN_A is not set",
        status: null,
        code: RUNNER_SETUP_CODE,
        requestId: null,
        fix: null
      })
      const s = counted(() => Effect.fail(lacking))
      const exit = yield* Effect.exit(retryStep("start", s.step))
      expect(exit).toStrictEqual(Exit.fail(lacking))
      expect(s.attempts()).toBe(1)
    }))

  it.effect("a defect is retried, then fails the step with a fatal error", () =>
    Effect.gen(function*() {
      const s = counted(() => Effect.die(new TypeError("cannot read properties of undefined")))
      const fiber = yield* Effect.fork(Effect.exit(retryStep("set/r:2", s.step)))
      yield* TestClock.adjust("10 minutes")
      const exit = yield* Fiber.join(fiber)
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : exit).toMatchObject({
        _tag: "SyncFatalError",
        status: null,
        message: expect.stringContaining("cannot read properties of undefined")
      })
      expect(s.attempts()).toBeGreaterThan(1)
    }))
})

describe("throughStorageOutage", () => {
  // What the workflow engine dies with when Postgres cuts a connection under it.
  const outage = () => Effect.die(new PersistenceError({ cause: new Error("Connection terminated unexpectedly") }))

  it.effect("sends again while the cluster's storage is unreachable, then returns the answer", () =>
    Effect.gen(function*() {
      const s = counted((n) => (n < 5 ? outage() : Effect.succeed("exported")))
      const fiber = yield* Effect.fork(throughStorageOutage("set/r:1", s.step))
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toBe("exported")
      expect(s.attempts()).toBe(5)
    }))

  it.effect("gives up after the step schedule, with the storage's defect", () =>
    Effect.gen(function*() {
      const s = counted(() => outage())
      const fiber = yield* Effect.fork(Effect.exit(throughStorageOutage("run", s.step)))
      yield* TestClock.adjust("10 minutes")
      const exit = yield* Fiber.join(fiber)
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      expect(s.attempts()).toBeGreaterThan(5)
    }))

  it.effect("does not send again when the storage refused for good (a missing table, a full disk)", () =>
    Effect.gen(function*() {
      const missingTable = Object.assign(new Error("relation \"cluster_messages\" does not exist"), { code: "42P01" })
      const refused = counted(() => Effect.die(new PersistenceError({ cause: missingTable })))
      const exit = yield* Effect.exit(throughStorageOutage("run", refused.step))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      expect(refused.attempts()).toBe(1)
      // the server shutting down (SQLSTATE 57P01, deep in the chain) is an outage again
      const shutdown = Object.assign(new Error("terminating connection due to administrator command"), {
        code: "57P01"
      })
      const s = counted((n) =>
        n < 3
          ? Effect.die(new PersistenceError({ cause: new Error("query failed", { cause: shutdown }) }))
          : Effect.succeed(1)
      )
      const fiber = yield* Effect.fork(throughStorageOutage("run", s.step))
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toBe(1)
      expect(s.attempts()).toBe(3)
    }))

  it.effect("does not send again on another defect or on a failure", () =>
    Effect.gen(function*() {
      const bug = counted(() => Effect.die(new TypeError("x is undefined")))
      const bugExit = yield* Effect.exit(throughStorageOutage("run", bug.step))
      expect(Exit.isFailure(bugExit) && Cause.isDie(bugExit.cause)).toBe(true)
      expect(bug.attempts()).toBe(1)
      const failed = counted(() => Effect.fail(fatal(null)))
      expect(yield* Effect.exit(throughStorageOutage("run", failed.step))).toStrictEqual(Exit.fail(fatal(null)))
      expect(failed.attempts()).toBe(1)
    }))
})
