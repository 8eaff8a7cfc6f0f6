/**
 * A runner's services per job (output folder, Graph URL, record sinks, budget): built on first use,
 * shared by every step of the job that runs on this runner, closed a while after the last one.
 */
import {
  defaultPolicy,
  GraphClient,
  type GraphBudget,
  type GraphCredential,
  GraphCredentialReference
} from "@meeting-artifacts/api"
import type * as SqlClient from "@effect/sql/SqlClient"
import { type StepContext, type StepServices, SyncFatalError } from "@meeting-artifacts/pipeline"
import {
  CheckpointStore,
  FileSystemSink,
  parseSinkSpecs,
  recordSinksLayer,
  type SinkError
} from "@meeting-artifacts/sinks"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RcMap from "effect/RcMap"
import type * as Scope from "effect/Scope"
import { hostname } from "node:os"
import type { JobSpec, JobTenant, RunPayload } from "../ExportWorkflows.js"
import * as PostgresBudget from "../PostgresBudget.js"

export interface JobServices {
  readonly context: Context.Context<StepServices>
  readonly downloadSlots: Effect.Semaphore
}

export interface JobResourcesService {
  readonly forJob: (job: JobSpec) => Effect.Effect<JobServices, SyncFatalError, Scope.Scope>
}

export class JobResources extends Context.Tag("@meeting-artifacts/cluster/JobResources")<
  JobResources,
  JobResourcesService
>() {}

export const setupFatal = (message: string, fix: string | null = null): SyncFatalError =>
  new SyncFatalError({ message, status: null, code: null, requestId: null, fix })

/** The code of a fatal error of the runner's own set-up (its environment), which retrying does not change. */
export const RUNNER_SETUP_CODE = "RunnerSetup"

const servicesLayer = (
  job: JobSpec,
  credential: GraphCredential,
  scope: string | undefined,
  budget: GraphBudget
) => {
  const sinks = parseSinkSpecs(job.sinks)
  if (sinks._tag === "Left") return Layer.fail(setupFatal(sinks.left.message))
  return Layer.mergeAll(
    FileSystemSink.layer(job.out),
    recordSinksLayer(sinks.right).pipe(
      Layer.mapError((e: SinkError) => setupFatal(`cannot open a record sink: ${e.message}`))
    ),
    GraphClient.layer({
      baseUrl: job.graphUrl,
      allowInsecureHttp: job.allowInsecureHttp,
      credential,
      scope,
      budget,
      policy: {
        maxConcurrentDownloads: job.concurrency,
        requestsPerSecond: job.requestsPerSecond,
        maxConcurrentRequests: job.maxConcurrentRequests
      }
    }).pipe(Layer.mapError((e) => setupFatal(`cannot set up the Graph client: ${e.message}`)))
  )
}

/**
 * The key of a job's Graph budget. Graph throttles per app and tenant: a job of a named tenant draws on
 * that tenant's budget (so two tenants never share one, and one's 429s never pause another); a job of the
 * runners' own credential on its Graph URL's.
 */
export const budgetKey = (job: JobSpec): string =>
  job.tenant === undefined
    ? job.graphUrl
    : `tenant:${new URL(job.graphUrl).host}/${job.tenant.tenantId}/${job.tenant.clientId}`

/** A named tenant's credential, from this runner's environment (the variables or file its reference names). */
const tenantCredential = (tenant: JobTenant) =>
  GraphCredentialReference.fromEnv(tenant).pipe(
    Effect.mapError((e) =>
      new SyncFatalError({
        message: `tenant ${tenant.name}: cannot set up its credential on runner ${hostname()}: ${e.message}`,
        status: null,
        code: RUNNER_SETUP_CODE,
        requestId: null,
        fix: "give every runner the variables (or the certificate file) the tenants file names for this tenant"
      })
    )
  )

/** The RcMap key of a job's set-up: its generation, then the job's JSON. */
const generationKey = (generation: number, job: string) => `${generation}\n${job}`
const jobOfKey = (key: string) => key.slice(key.indexOf("\n") + 1)

/**
 * A job's services from `jobs`. An RcMap keeps a failed lookup like a built one, while in use and for its
 * idle time after: a job first set up on this runner while the cluster's Postgres restarted failed every
 * retry of its steps (each within a minute of the last) until they gave up, the database long back. So
 * a failed set-up moves the job to its next generation, set up again by the next step. Only the first
 * of the steps that shared the failed set-up moves it (compare-and-bump), and it drops only that
 * generation's key: a step that failed late never drops a good set-up another step has built since.
 */
export const forJobIn = (
  jobs: RcMap.RcMap<string, JobServices, SyncFatalError>,
  generations: Map<string, number>,
  job: string
) =>
  Effect.suspend(() => {
    const generation = generations.get(job) ?? 0
    const key = generationKey(generation, job)
    return RcMap.get(jobs, key).pipe(
      Effect.tapErrorCause((cause) => {
        if (Cause.isInterruptedOnly(cause) || (generations.get(job) ?? 0) !== generation) return Effect.void
        generations.set(job, generation + 1)
        return RcMap.invalidate(jobs, key)
      })
    )
  })

/** Job resources on the runner's checkpoint store (the cluster's Postgres) and Graph credential. */
export const layer = (
  credential: { readonly credential: GraphCredential; readonly scope?: string | undefined }
): Layer.Layer<JobResources, never, CheckpointStore.CheckpointStore | SqlClient.SqlClient> =>
  Layer.scoped(
    JobResources,
    Effect.gen(function*() {
      const checkpoint = yield* CheckpointStore.CheckpointStore
      const sqlContext = yield* Effect.context<SqlClient.SqlClient>()
      const jobs = yield* RcMap.make({
        lookup: (key: string) =>
          Effect.gen(function*() {
            const job = JSON.parse(jobOfKey(key)) as JobSpec
            // One budget per tenant, cluster-wide (rate and requests in flight): see PostgresBudget.
            const graph = job.tenant === undefined ? credential : yield* tenantCredential(job.tenant)
            const budget = yield* PostgresBudget.make({
              key: budgetKey(job),
              requestsPerSecond: job.requestsPerSecond,
              burst: defaultPolicy.burst,
              maxConcurrentRequests: job.maxConcurrentRequests
            }).pipe(Effect.provide(sqlContext))
            const context = yield* Layer.build(servicesLayer(job, graph.credential, graph.scope, budget))
            const downloadSlots = yield* Effect.makeSemaphore(job.concurrency)
            return {
              context: Context.add(context, CheckpointStore.CheckpointStore, checkpoint),
              downloadSlots
            } satisfies JobServices
          }),
        idleTimeToLive: "1 minute"
      })
      // Which set-up of each job is current: a failed one is replaced by bumping it (see `forJobIn`).
      const generations = new Map<string, number>()
      return { forJob: (job) => forJobIn(jobs, generations, JSON.stringify(job)) }
    })
  )

/** Runs a step on the services of its run's job. */
export const withJob = <A>(
  run: RunPayload,
  step: (ctx: StepContext) => Effect.Effect<A, SyncFatalError, StepServices>
): Effect.Effect<A, SyncFatalError, JobResources> =>
  Effect.scoped(
    Effect.gen(function*() {
      const resources = yield* JobResources
      const services = yield* resources.forJob(run.job)
      const ctx: StepContext = {
        options: {
          organizers: run.organizers,
          from: run.from === "" ? null : run.from,
          to: run.to === "" ? null : run.to,
          meetingIds: run.mode.meetingIds,
          joinUrls: run.mode.joinUrls,
          adhocCallIds: run.mode.adhocCallIds,
          adhocCalls: run.mode.adhocCalls,
          out: run.job.out,
          incremental: run.mode.incremental,
          concurrency: run.job.concurrency,
          dryRun: false,
          metadataContent: run.job.metadataContent
        },
        runId: run.runId,
        downloadSlots: services.downloadSlots
      }
      return yield* Effect.provide(step(ctx), services.context)
    })
  )
