/**
 * `sync --tenants <file>`: one export per tenant of the file, each with its own credential, Graph URL,
 * output folder and Graph budget. In this process the tenants run one after another; with `--cluster`
 * each tenant is its own run on the cluster (submitted together), so a tenant that fails (a wrong
 * credential, a tenant-wide 403) fails alone and a resubmission attaches to each run separately. The
 * exit code is the worst tenant's.
 */
import { DEFAULT_BASE_URL } from "@meeting-artifacts/api/GraphUrl"
import * as Effect from "effect/Effect"
import { ExitCode } from "../CliExit.js"
import {
  type ExportConfig,
  type ExportOutcome,
  exportOnce,
  fatalLine,
  formatSummary,
  tenantCredential
} from "./runSync.js"
import type { SyncCommandConfig } from "./syncConfig.js"
import { loadTenants, type Tenant } from "./tenantsFile.js"

/** Why these flags cannot go with --tenants, or undefined. */
export const tenantsProblem = (config: SyncCommandConfig): string | undefined => {
  if (config.organizer.length > 0) {
    return "--organizer cannot be combined with --tenants: each tenant lists its organizers"
  }
  if (config.graphUrl !== DEFAULT_BASE_URL) {
    return "--graph-url (GRAPH_BASE_URL) cannot be combined with --tenants: each tenant's graphUrl is in the file"
  }
  if (config.state !== undefined) {
    return "--state cannot be combined with --tenants: each tenant's checkpoint state is in its own out folder " +
      "(with --cluster, in the cluster's Postgres)"
  }
  if (config.meeting.length > 0 || config.joinUrl.length > 0 || config.adhocCall.length > 0) {
    return "--meeting, --join-url and --adhoc-call name one tenant's meetings: run that tenant without --tenants"
  }
  return undefined
}

/** The settings of one tenant's export: the command's, with the tenant's organizers, folder and budget. */
const tenantConfig = (config: SyncCommandConfig, tenant: Tenant): ExportConfig => ({
  ...config,
  organizer: tenant.organizers,
  out: tenant.out,
  graphUrl: tenant.graphUrl,
  rate: tenant.rate,
  maxRequests: tenant.maxRequests,
  concurrency: tenant.concurrency
})

const jobTenant = (t: Tenant) => ({
  name: t.name,
  tenantId: t.tenantId,
  clientId: t.clientId,
  credential: t.credential,
  ...(t.authorityHost !== undefined ? { authorityHost: t.authorityHost } : {})
})

interface TenantOutcome extends ExportOutcome {
  readonly name: string
}

/** The per-tenant summary: every line of a tenant's summary prefixed with its name, then the totals. */
export const formatTenantsSummary = (outcomes: ReadonlyArray<TenantOutcome>, code: number): string => {
  const lines = outcomes.flatMap((o) =>
    (o.summary !== null ? formatSummary(o.summary).split("\n") : [`failed: ${o.error}`]).map((l) => `[${o.name}] ${l}`)
  )
  const count = (c: number) => outcomes.filter((o) => o.code === c).length
  lines.push(
    `Tenants: ${count(ExitCode.Ok)} exported, ${count(ExitCode.PartialFailure)} with failed items, ` +
      `${count(ExitCode.Fatal)} failed (exit ${code})`
  )
  return lines.join("\n")
}

export const runTenants = (config: SyncCommandConfig, file: string): Effect.Effect<number> =>
  Effect.gen(function*() {
    const fatal = (message: string) => Effect.as(fatalLine(config.logFormat, message), ExitCode.Fatal as number)
    const problem = tenantsProblem(config)
    if (problem !== undefined) return yield* fatal(problem)
    const cluster = config.cluster
    // Loaded only for cluster runs, as for a single tenant.
    const clusterExport = cluster === undefined
      ? undefined
      : yield* Effect.promise(() => import("./runClusterSync.js"))
    if (cluster !== undefined) {
      const clusterProblem = clusterExport!.clusterProblem(config, cluster)
      if (clusterProblem !== undefined) return yield* fatal(clusterProblem)
    }
    const loaded = yield* loadTenants(file, config).pipe(Effect.either)
    if (loaded._tag === "Left") return yield* fatal(loaded.left.message)
    const run = (t: Tenant) => {
      const label = `tenant ${t.name}: `
      return cluster === undefined
        ? exportOnce(tenantConfig(config, t), tenantCredential(t), label)
        : clusterExport!.clusterExport(tenantConfig(config, t), cluster, jobTenant(t), label)
    }
    const outcomes = yield* Effect.forEach(
      loaded.right,
      (t) => Effect.map(run(t), (o): TenantOutcome => ({ ...o, name: t.name })),
      // In one process one after another (one progress display at a time); on a cluster all at once.
      { concurrency: cluster === undefined ? 1 : "unbounded" }
    )
    const code = Math.max(...outcomes.map((o) => o.code))
    yield* Effect.sync(() =>
      process.stdout.write(
        config.json
          ? `${
            JSON.stringify({
              tenants: outcomes.map((o) => ({ name: o.name, exitCode: o.code, summary: o.summary, error: o.error })),
              exitCode: code
            })
          }\n`
          : `${formatTenantsSummary(outcomes, code)}\n`
      )
    )
    return code
  })
