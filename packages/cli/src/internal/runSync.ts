import {
  type GraphError,
  GraphCredentialReference,
  GraphCredentials,
  isGraphError,
  redactUrlCredentials
} from "@meeting-artifacts/api"
import {
  isHttpUrl,
  Progress,
  type RunSummary,
  sync,
  SyncFatalError,
  syncLayer,
  type SyncOptions,
  validateSyncOptions
} from "@meeting-artifacts/pipeline"
import { parseSinkSpecs, type RunLock, type SinkError } from "@meeting-artifacts/sinks"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as NodeFs from "node:fs"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Stream from "effect/Stream"
import { ExitCode } from "../CliExit.js"
import { maxConcurrentRequestsFor } from "@meeting-artifacts/api/GraphPolicy"
import { jsonLine, jsonLogger, renderJsonLog } from "./jsonLog.js"
import { formatBytes, formatDuration, renderProgress } from "./render.js"
import { escapeControl } from "./terminal.js"
import { telemetryLayer } from "./telemetry.js"

import type { LogFormat, SyncCommandConfig } from "./syncConfig.js"

/** A ConfigError as one line: what is wrong with which variable. */
export const configErrorLine = (e: ConfigError.ConfigError): string => {
  switch (e._op) {
    case "And":
    case "Or":
      return configErrorLine(e.left)
    case "InvalidData":
    case "MissingData":
    case "SourceUnavailable":
    case "Unsupported":
      return e.message
  }
}

const oneLine = (message: string) => escapeControl(message.replace(/\s*\n\s*/g, " ").trim())

/** Writes one line to stderr (never through Console, which the CLI shell filters while parsing). */
export const errorLine = (message: string): Effect.Effect<void> =>
  Effect.sync(() => {
    process.stderr.write(`meeting-artifacts sync: ${oneLine(message)}\n`)
  })

const usd = (n: number) => `$${n.toFixed(4)}`

/** The human summary printed on stdout at the end of a run. */
export const formatSummary = (s: RunSummary): string => {
  const kinds = (label: string, c: RunSummary["recordings"]) =>
    `${label}: ${c.discovered} found, ${c.downloaded} downloaded, ${c.skipped} already complete, ${c.failed} failed`
  const lines = s.dryRun
    ? [
      `Dry run: would download ${s.recordings.downloaded} recording(s) and ${s.transcripts.downloaded} transcript(s) ` +
      `(${s.recordings.skipped + s.transcripts.skipped} already complete).`,
      `Metered cost it would incur: ${s.recordingMinutes} recording min (${usd(s.cost.recordings)}) + ` +
      `${s.transcriptMinutes} transcript min (${usd(s.cost.transcripts)}) = ${usd(s.cost.total)}`
    ]
    : [
      `Exported ${s.sets} set(s) into ${s.out}`,
      kinds("recordings", s.recordings),
      kinds("transcripts", s.transcripts),
      `${
        formatBytes(s.bytes)
      } downloaded; ${s.requests} requests, ${s.retries} retries, ${s.throttleWaits} throttled ` +
      `(${formatDuration(s.throttleWaitMs)} waiting); elapsed ${formatDuration(s.elapsedMs)}`,
      `Metered: ${s.recordingMinutes} recording min (${
        usd(s.cost.recordings)
      }) + ${s.transcriptMinutes} transcript min ` +
      `(${usd(s.cost.transcripts)}) = ${usd(s.cost.total)}`,
      // A run that exported nothing (discovery failed) may have no manifest to point at.
      NodeFs.existsSync(s.manifest) ? `Manifest: ${s.manifest}` : "Manifest: none written (no set exported)"
    ]
  if (s.failures > 0) lines.push(`${s.failures} item(s) failed for good: see ${s.failuresFile}`)
  return lines.join("\n")
}

export const describeSetupError = (e: SinkError | GraphError | RunLock.RunLockHeld): string =>
  e._tag === "RunLockHeld"
    ? e.message
    : isGraphError(e)
    ? `cannot set up the Graph client: ${e.message}`
    : `cannot open storage: ${e.message}`

/** A fatal error in the chosen log format (a SyncFatalError's Graph code, request-id and fix as fields in JSON). */
export const fatalLine = (
  format: LogFormat,
  message: string,
  details: Readonly<Record<string, unknown>> = {}
): Effect.Effect<void> =>
  format === "json"
    ? Effect.sync(() => {
      process.stderr.write(jsonLine("error", "fatal", { message: oneLine(message), ...details }))
    })
    : errorLine(message)

/** The settings `exportLayer` reads (sync's and listen's shared flags). */
export interface ExportLayerConfig {
  readonly out: string
  readonly state: string | undefined
  readonly sink: ReadonlyArray<string>
  readonly graphUrl: string
  readonly allowInsecureHttp: boolean
  readonly concurrency: number
  readonly rate: number
  /** As given; absent: see `maxConcurrentRequestsFor`. */
  readonly maxRequests: number | undefined
}

/** The Graph credential of the environment (GRAPH_ACCESS_TOKEN, AZURE_*), or why not (one line). */
export const envCredential: Effect.Effect<GraphCredentials.ResolvedGraphCredential, string> = Effect.suspend(() =>
  GraphCredentials.fromEnv(process.env)
).pipe(Effect.mapError((e) => `cannot set up authentication: ${configErrorLine(e)}`))

/** A tenant's Graph credential from the variables or file its reference names, or why not (one line). */
export const tenantCredential = (
  tenant: GraphCredentialReference.TenantCredential
): Effect.Effect<GraphCredentials.ResolvedGraphCredential, string> =>
  GraphCredentialReference.fromEnv(tenant).pipe(Effect.mapError((e) => `cannot set up authentication: ${e.message}`))

/** The services of an export (Graph client, sinks, checkpoint store) from the flags, or why not (one line). */
export const exportLayer = (
  config: ExportLayerConfig,
  dryRun: boolean,
  credential: Effect.Effect<GraphCredentials.ResolvedGraphCredential, string> = envCredential
) =>
  Effect.gen(function*() {
    if (!isHttpUrl(config.graphUrl)) {
      return Either.left(
        `--graph-url is not an http(s) URL: ${redactUrlCredentials(JSON.stringify(config.graphUrl))}`
      )
    }
    const sinks = parseSinkSpecs(config.sink)
    if (sinks._tag === "Left") return Either.left(sinks.left.message)
    const auth = yield* Effect.either(credential)
    if (auth._tag === "Left") return Either.left(auth.left)
    return Either.right(syncLayer({
      out: config.out,
      state: config.state,
      sinks: sinks.right,
      dryRun,
      graph: {
        baseUrl: config.graphUrl,
        allowInsecureHttp: config.allowInsecureHttp,
        credential: auth.right.credential,
        scope: auth.right.scope,
        policy: {
          maxConcurrentDownloads: config.concurrency,
          requestsPerSecond: config.rate,
          maxConcurrentRequests: maxConcurrentRequestsFor(config.concurrency, config.maxRequests)
        }
      }
    }))
  })

/** How one export ended: its exit code, and its summary unless it was fatal (then `error` says why). */
export interface ExportOutcome {
  readonly code: number
  readonly summary: RunSummary | null
  readonly error: string | null
}

/** A fatal error of one export: written to stderr (after `label`), and its outcome. */
export const fatalOutcome = (
  format: LogFormat,
  label: string,
  message: string,
  details: Readonly<Record<string, unknown>> = {}
): Effect.Effect<ExportOutcome> =>
  Effect.as(fatalLine(format, `${label}${message}`, details), { code: ExitCode.Fatal, summary: null, error: message })

/** The settings of one export (`sync`'s, or one tenant's of a `--tenants` file). */
export type ExportConfig = SyncCommandConfig & { readonly out: string }

/** The job's options as the flags give them (validated by `validateSyncOptions`, here or on a cluster). */
export const syncOptionsOf = (config: ExportConfig): SyncOptions => ({
  organizers: config.organizer,
  from: config.from,
  to: config.to,
  meetingIds: config.meeting,
  joinUrls: config.joinUrl,
  adhocCallIds: config.adhocCall,
  adhocCalls: config.adhocCalls,
  out: config.out,
  incremental: config.incremental,
  concurrency: config.concurrency,
  dryRun: config.dryRun,
  metadataContent: config.metadataContent
})

/**
 * One export in this process; fatal errors are written to stderr (each line starting with `label`),
 * the summary is returned for the caller to print.
 */
export const exportOnce = (
  config: ExportConfig,
  credential: Effect.Effect<GraphCredentials.ResolvedGraphCredential, string> = envCredential,
  label = ""
): Effect.Effect<ExportOutcome> =>
  Effect.gen(function*() {
    const fatal = (message: string, details?: Readonly<Record<string, unknown>>) =>
      fatalOutcome(config.logFormat, label, message, details)
    const options = syncOptionsOf(config)
    const validated = yield* validateSyncOptions(options).pipe(Effect.either)
    if (validated._tag === "Left") return yield* fatal(validated.left.message)
    const layer = yield* exportLayer(config, config.dryRun, credential)
    if (layer._tag === "Left") return yield* fatal(layer.left)
    const program = Effect.gen(function*() {
      const progress = yield* Progress
      const events = yield* progress.subscribe
      const untilFinished = events.pipe(Stream.takeUntil((e) => e._tag === "RunFinished"))
      const renderer = yield* Effect.fork(
        config.logFormat === "json"
          ? renderJsonLog(untilFinished, process.stderr, progress.ended)
          : renderProgress(untilFinished, process.stderr, progress.ended)
      )
      // However the run ends (a fatal error too: the last failures and retries say what led to it), the
      // renderer writes every event published before, then stops: no timer decides what is shown.
      return yield* sync(options).pipe(Effect.ensuring(Effect.zipRight(progress.end, Fiber.await(renderer))))
    }).pipe(
      Effect.scoped,
      Effect.provide(Progress.layer),
      Effect.provide(layer.right),
      // Outermost, so setting up the services is traced too and the exporters flush when the run ends.
      Effect.provide(telemetryLayer()),
      config.logFormat === "json" ? Effect.provide(Logger.replace(Logger.defaultLogger, jsonLogger())) : (e) => e
    )
    return yield* program.pipe(
      Effect.map((summary): ExportOutcome => ({
        code: summary.failures > 0 ? ExitCode.PartialFailure : ExitCode.Ok,
        summary,
        error: null
      })),
      Effect.catchAll((e) => {
        if (e instanceof SyncFatalError) {
          const { code, fix, requestId, status } = e
          return fatal(e.oneLine, { status, code, requestId, fix })
        }
        if (e._tag === "InvalidSyncOptions") return fatal(e.message)
        return fatal(describeSetupError(e))
      })
    )
  })

/** Prints a summary on stdout (one JSON object with --json). */
export const printSummary = (config: Pick<SyncCommandConfig, "json">, summary: RunSummary): Effect.Effect<void> =>
  Effect.sync(() => {
    process.stdout.write(config.json ? `${JSON.stringify(summary)}\n` : `${formatSummary(summary)}\n`)
  })

/**
 * One export in this process (`sync` without --tenants or --cluster), its summary printed; the exit code
 * (0, 1 or 2). Never fails.
 */
export const runExport = (config: SyncCommandConfig): Effect.Effect<number> =>
  Effect.gen(function*() {
    // Required unless --tenants (checked with the flags); the type cannot say so.
    const outcome = yield* exportOnce({ ...config, out: config.out! })
    if (outcome.summary !== null) yield* printSummary(config, outcome.summary)
    return outcome.code
  })
