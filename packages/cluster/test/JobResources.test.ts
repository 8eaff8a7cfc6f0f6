/**
 * A runner's services per job (`JobResources`) on a real Postgres that restarts: a job first set up while
 * the cluster's database is down fails, and the next step, once it is back, gets the job's services
 * instead of the same failure again (the steps of a run set up on a runner during a restart then finish).
 */
import { GraphCredentials } from "@meeting-artifacts/api"
import { CheckpointStore, PostgresClient } from "@meeting-artifacts/sinks"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningPostgres, startPostgres } from "../../sinks/test/support/servers.js"
import * as JobResources from "../src/internal/jobResources.js"
import { unreachableJob } from "./support/job.js"

let pg: RunningPostgres
let runtime: ManagedRuntime.ManagedRuntime<JobResources.JobResources, unknown>
beforeAll(async () => {
  pg = await startPostgres()
  const graph = await Effect.runPromise(
    GraphCredentials.make({ _tag: "StaticToken", token: Redacted.make("test-token"), scope: undefined })
  )
  // As a runner has them: the job resources on the cluster's Postgres (its storage and checkpoint store).
  runtime = ManagedRuntime.make(
    JobResources.layer(graph).pipe(
      Layer.provide(CheckpointStore.layerPostgres(pg.url)),
      Layer.provide(PostgresClient.layer(pg.url))
    )
  )
  await runtime.runPromise(Effect.void)
}, 120_000)
afterAll(async () => {
  await runtime?.dispose()
  await pg?.stop()
})

const job = unreachableJob("ma-cluster-job-")

/** One step's use of the job's services: whether it got them. */
const useJob = () =>
  runtime.runPromise(
    Effect.exit(Effect.scoped(Effect.flatMap(JobResources.JobResources, (resources) => resources.forJob(job))))
  )

describe("JobResources", () => {
  it("a job whose set-up failed while Postgres was down is set up again once it is back", async () => {
    await pg.restart(async () => {
      // The job's Graph budget lives in the cluster's Postgres: no set-up without it.
      expect(Exit.isFailure(await useJob())).toBe(true)
    })
    const again = await useJob()
    expect(Exit.isSuccess(again), String(Exit.isFailure(again) ? again.cause : "")).toBe(true)
  }, 120_000)
})
