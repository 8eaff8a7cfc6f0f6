/**
 * `clusterSync` (what `sync --cluster` runs) when the cluster's Postgres goes away for good while it
 * waits for a run: the wait ends with a fatal error that says so, instead of retrying silently for ever.
 */
import { SyncFatalError } from "@meeting-artifacts/pipeline"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startPostgres } from "../../sinks/test/support/servers.js"
import { clusterSync } from "../src/ClusterSync.js"
import { unreachableJob } from "./support/job.js"

let pg: RunningServer
beforeAll(async () => {
  pg = await startPostgres()
}, 120_000)
afterAll(async () => {
  await pg?.stop()
})

describe("clusterSync", () => {
  it("ends its wait with a fatal error when the cluster's Postgres stays unreachable", async () => {
    const exit = await Effect.runPromise(Effect.gen(function*() {
      const waiting = yield* Deferred.make<void>()
      const sync = yield* Effect.fork(clusterSync({
        clusterUrl: Redacted.make(pg.url),
        organizers: ["organizer-1"],
        from: "2024-01-01T00:00:00.000Z",
        to: "2024-02-01T00:00:00.000Z",
        job: unreachableJob("ma-cluster-sync-"),
        // No runner joins: told so once it has joined the cluster and waits for the run.
        onNoRunner: () => Deferred.succeed(waiting, undefined),
        noRunnerHintAfter: "0 millis",
        storageLostAfter: "2 seconds"
      }))
      yield* Deferred.await(waiting)
      yield* Effect.promise(() => pg.stop())
      return yield* Fiber.await(sync)
    }))
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) ? exit.cause : undefined
    expect(error?._tag === "Fail" ? error.error : error).toBeInstanceOf(SyncFatalError)
    expect(String(error?._tag === "Fail" ? (error.error as SyncFatalError).message : error)).toMatch(
      /^lost the cluster's Postgres: it did not answer for 2s while waiting for the run cluster-[0-9a-f]+-1$/
    )
  }, 120_000)
})
