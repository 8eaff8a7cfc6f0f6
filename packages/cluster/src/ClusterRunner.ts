/**
 * A runner: one process of the cluster. It registers with the others through
 * the cluster's Postgres (`@effect/cluster`'s SqlRunnerStorage and
 * SqlMessageStorage), owns a share of the shards, and runs the export
 * workflows whose entities live on them. Runners talk to each other over TCP
 * (the shared socket protocol of `@effect/platform-node`) at `host:port`, which every other runner must reach.
 */
import * as ClusterWorkflowEngine from "@effect/cluster/ClusterWorkflowEngine"
import * as SqlClient from "@effect/sql/SqlClient"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import type { GraphCredential } from "@meeting-artifacts/api"
import { CheckpointStore, PostgresClient } from "@meeting-artifacts/sinks"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { buildRetrying } from "./internal/buildRetrying.js"
import { workflowsLayer } from "./internal/handlers.js"
import * as JobResources from "./internal/jobResources.js"
import { socketLayer } from "./internal/socketLayer.js"
import * as RunProgress from "./RunProgress.js"
import { setupFatal } from "./internal/jobResources.js"

export interface ClusterRunnerOptions {
  /** The cluster's Postgres (also its checkpoint store). */
  readonly clusterUrl: Redacted.Redacted<string>
  /** The address other runners reach this one at. */
  readonly host: string
  readonly port: number
  /** Where to listen, when not `host` (e.g. 0.0.0.0 behind NAT). */
  readonly listenHost?: string | undefined
  /** The Graph credential of the tenant this runner exports. */
  readonly graph: { readonly credential: GraphCredential; readonly scope?: string | undefined }
}

/**
 * How fast a runner notices work: the cluster's defaults poll for messages every 10 s; an export
 * cares more for a moved shard resuming quickly than for a few more small queries. A reply from another
 * runner (a child workflow's result, the run's summary for `sync --cluster`) is read from Postgres:
 * polled every 50 ms while some are awaited (one query per process for all of them), not 200 ms.
 */
export const shardingTimings = {
  entityMessagePollInterval: Duration.seconds(1),
  entityReplyPollInterval: Duration.millis(50),
  refreshAssignmentsInterval: Duration.seconds(1),
  shardLockRefreshInterval: Duration.seconds(5),
  shardLockExpiration: Duration.seconds(15)
} as const

/**
 * The cluster's Postgres as the SqlClient of its storage: the sinks' pool (its driver an optional peer
 * dependency, its connections bounded in time, its connect errors saying why), with the driver's usual
 * ten connections (shard locks, message polling and steps share them).
 */
export const clusterSqlLayer = (url: Redacted.Redacted<string>) =>
  PostgresClient.layer(url, { maxConnections: 10 }).pipe(
    Layer.mapError((e) =>
      setupFatal(
        e.operation === "load driver"
          ? "cluster mode needs the optional package @effect/sql-pg, which is not installed: npm install @effect/sql-pg"
          : e.message
      )
    )
  )

/** A runner for as long as the layer lives (it hands its shards over when its scope closes). */
export const layer = (options: ClusterRunnerOptions) => Layer.scopedContext(buildRetrying(layerOnce(options)))

/** The progress table the steps write to (see RunProgress). */
const progressTableLayer = Layer.effectDiscard(
  Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.orDie(RunProgress.ensureTable(sql)))
)

const layerOnce = (options: ClusterRunnerOptions) =>
  Layer.merge(workflowsLayer, progressTableLayer).pipe(
    Layer.provide(JobResources.layer(options.graph)),
    Layer.provide(CheckpointStore.layerPostgres(options.clusterUrl)),
    Layer.provideMerge(ClusterWorkflowEngine.layer),
    Layer.provideMerge(socketLayer({
      shardingConfig: {
        runnerAddress: Option.some(RunnerAddress.make(options.host, options.port)),
        runnerListenAddress: Option.some(RunnerAddress.make(options.listenHost ?? options.host, options.port)),
        ...shardingTimings
      }
    })),
    Layer.provideMerge(clusterSqlLayer(options.clusterUrl))
  )
