/**
 * The durable workflows of a cluster sync (`@effect/workflow`, run by
 * `ClusterWorkflowEngine` on the runners):
 *
 * - `ExportRun`, one per run (its execution id is the run id, so a second
 *   submission of the same run attaches to it): starts the run record,
 *   discovers every organizer, exports every correlated set, and writes the
 *   manifest, failures.jsonl and run record at the end.
 * - `DiscoverOrganizer`, one per (run, organizer): the organizer's listing.
 * - `ExportSet`, one per (run, correlated set): the set's downloads and
 *   record-sink rows.
 *
 * Activities run on the runner that owns their workflow's entity, so the
 * fan-out goes through child workflows: each child has its own execution id,
 * hence its own shard, hence any runner. Children's results are stored with
 * their workflow, so a parent replayed on another runner gets them back
 * without running them again.
 */
import { GraphCredentialReference } from "@meeting-artifacts/api"
import { ArtifactSet } from "@meeting-artifacts/correlate"
import { Discovered, StepOutcome, StepsTotals, SyncFatalError } from "@meeting-artifacts/pipeline"
import * as Workflow from "@effect/workflow/Workflow"
import * as Schema from "effect/Schema"

/**
 * The tenant a job exports, when it names one (a `--tenants` file): its app and the reference to its
 * credential, which each runner resolves from its own environment (the secret never enters Postgres).
 */
export const JobTenant = Schema.Struct({
  /** The tenant's name in the tenants file (for messages). */
  name: Schema.String,
  ...GraphCredentialReference.TenantCredential.fields
})
export type JobTenant = typeof JobTenant.Type

/**
 * What every step of a run needs to know to build its services on a runner. It is stored in the cluster's
 * Postgres, so it holds no secret: credentials come from each runner's environment, and `sync --cluster`
 * refuses sink URLs that carry a password.
 */
export const JobSpec = Schema.Struct({
  /** Absolute output folder, the same path on every runner (a shared folder). */
  out: Schema.String,
  graphUrl: Schema.String,
  allowInsecureHttp: Schema.Boolean,
  /** `--sink` specs (record sinks every runner can write: postgres, azure-blob). */
  sinks: Schema.Array(Schema.String),
  /** Content downloads per runner. */
  concurrency: Schema.Number,
  /** The tenant's Graph budget, cluster-wide. */
  requestsPerSecond: Schema.Number,
  maxConcurrentRequests: Schema.Number,
  metadataContent: Schema.Boolean,
  /** Absent: the tenant of the runners' own credential (GRAPH_ACCESS_TOKEN, AZURE_*). */
  tenant: Schema.optional(JobTenant)
})
export type JobSpec = typeof JobSpec.Type

/**
 * What a run exports besides its window, as `sync`'s flags say it: resume from the stored delta links
 * (`--incremental`), only listed meetings / join URLs / ad hoc calls (a targeted run), or every ad hoc
 * call of the window too (`--adhoc-calls`). Join URLs are resolved to meetings by the discovery steps,
 * on the runners, which hold the Graph credential.
 */
export const RunMode = Schema.Struct({
  incremental: Schema.Boolean,
  meetingIds: Schema.Array(Schema.String),
  joinUrls: Schema.Array(Schema.String),
  adhocCallIds: Schema.Array(Schema.String),
  adhocCalls: Schema.Boolean
})
export type RunMode = typeof RunMode.Type

/** A plain window run: every meeting of each organizer in [from, to). */
export const windowMode: RunMode = {
  incremental: false,
  meetingIds: [],
  joinUrls: [],
  adhocCallIds: [],
  adhocCalls: false
}

export const RunPayload = Schema.Struct({
  runId: Schema.String,
  organizers: Schema.Array(Schema.String),
  /** Window start, ISO; "" when not given (a targeted run), as the checkpoint's run records spell it. */
  from: Schema.String,
  /** Window end, ISO; "" when not given (an open incremental window, a targeted run). */
  to: Schema.String,
  job: JobSpec,
  mode: Schema.optionalWith(RunMode, { default: () => windowMode })
})
export type RunPayload = typeof RunPayload.Type

export const ExportRun = Workflow.make({
  name: "meeting-artifacts/ExportRun",
  payload: RunPayload,
  success: StepsTotals,
  error: SyncFatalError,
  idempotencyKey: (p) => p.runId
})

export const DiscoverOrganizer = Workflow.make({
  name: "meeting-artifacts/DiscoverOrganizer",
  payload: { run: RunPayload, organizerId: Schema.String },
  success: Discovered,
  error: SyncFatalError,
  idempotencyKey: (p) => `${p.run.runId}/${p.organizerId}`
})

/** A set's key in its run: its recording id, else its transcript id, else its meeting id. */
export const setKey = (set: ArtifactSet): string =>
  set.recording !== null
    ? `r:${set.recording.id}`
    : set.transcript !== null
    ? `t:${set.transcript.id}`
    : `m:${set.meetingId}`

export const ExportSet = Workflow.make({
  name: "meeting-artifacts/ExportSet",
  payload: { run: RunPayload, set: ArtifactSet },
  success: StepOutcome,
  error: SyncFatalError,
  idempotencyKey: (p) => `${p.run.runId}/${setKey(p.set)}`
})
