/**
 * `meeting-artifacts sync`: exports recordings and transcripts of a window of
 * meetings. Flags, environment, exit codes and the manifest are a public
 * contract (see the package README).
 */
import { Command, HelpDoc, Options } from "@effect/cli"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { CliExit, ExitCode } from "./CliExit.js"
import type { SyncCommandConfig } from "./internal/runSync.js"

export const DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0"

const organizer = Options.text("organizer").pipe(
  Options.withPseudoName("userId"),
  Options.withDescription("Organizer whose meetings are exported (user object id or UPN). Repeat for several."),
  Options.repeated
)
const from = Options.text("from").pipe(
  Options.withPseudoName("ISO datetime"),
  Options.withDescription("Window start, ISO 8601 (e.g. 2024-01-15T00:00:00Z); a missing zone means UTC."),
  Options.optional
)
const to = Options.text("to").pipe(
  Options.withPseudoName("ISO datetime"),
  Options.withDescription("Window end, ISO 8601, after --from."),
  Options.optional
)
const out = Options.text("out").pipe(
  Options.withPseudoName("dir"),
  Options.withDescription("Output directory: content files, manifest.jsonl, failures.jsonl.")
)
const graphUrl = Options.text("graph-url").pipe(
  Options.withPseudoName("base URL"),
  Options.withDescription(`Graph base URL (national clouds, an emulator). Default: ${DEFAULT_GRAPH_URL}`),
  Options.withDefault(DEFAULT_GRAPH_URL)
)
const state = Options.text("state").pipe(
  Options.withPseudoName("path"),
  Options.withDescription("Checkpoint store: a SQLite file or a postgres:// URL. Default: <out>/.meeting-artifacts/state.sqlite"),
  Options.optional
)
const concurrency = Options.integer("concurrency").pipe(
  Options.withPseudoName("n"),
  Options.withDescription("Concurrent content downloads (metered /content calls), 1-64."),
  Options.withDefault(4)
)
const sink = Options.text("sink").pipe(
  Options.withPseudoName("spec"),
  Options.withDescription(
    "Extra record sink, repeatable: sqlite:<file>, postgres:<url>, parquet:<dir>, azure-blob:<container>[/<prefix>] (credentials from AZURE_STORAGE_CONNECTION_STRING or @azure/identity); <kind>+append: keeps history."
  ),
  Options.repeated
)
const incremental = Options.boolean("incremental").pipe(
  Options.withDescription("Resume discovery from the delta links stored by the previous run: fetch only new artifacts.")
)
const meeting = Options.text("meeting").pipe(
  Options.withPseudoName("id"),
  Options.withDescription("Export only this online meeting id (repeatable); --from/--to become optional."),
  Options.repeated
)
const joinUrl = Options.text("join-url").pipe(
  Options.withPseudoName("url"),
  Options.withDescription("Export only the meeting with this join URL (repeatable)."),
  Options.repeated
)
const dryRun = Options.boolean("dry-run").pipe(
  Options.withDescription("List what would be fetched and the metered minutes and cost; download and write nothing.")
)
const metadataContent = Options.boolean("metadata-content").pipe(
  Options.withDescription(
    "Also export each transcript's metadataContent (speaker, language and absolute times per cue; metered) as transcript-<id>.metadata.json."
  )
)
const json = Options.boolean("json").pipe(
  Options.withDescription("Print the run summary as one JSON object on stdout.")
)
const logFormat = Options.choice("log-format", ["human", "json"]).pipe(
  Options.withDescription(
    "Progress, warnings, errors and the summary on stderr: human (bars on a terminal, plain lines otherwise) or json (one JSON object per line: level, time, event, fields)."
  ),
  Options.withDefault("human" as const)
)

const description = HelpDoc.blocks([
  HelpDoc.p(
    "Export Teams meeting recordings and transcripts of a window of meetings, joined by contentCorrelationId, into <out>. " +
      "Resumable (re-run after a crash: completed content is never downloaded again) and incremental (--incremental)."
  ),
  HelpDoc.p(
    "Auth: GRAPH_ACCESS_TOKEN (static bearer token) if set; otherwise @azure/identity: AZURE_TENANT_ID + AZURE_CLIENT_ID + " +
      "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH, else DefaultAzureCredential (managed identity, Azure CLI, ...). " +
      "AZURE_AUTHORITY_HOST selects the Entra authority."
  ),
  HelpDoc.p(
    "Exit codes: 0 everything exported; 1 some items failed for good (listed in <out>/failures.jsonl, everything else exported); " +
      "2 fatal (bad arguments, auth, a tenant-wide 403/402)."
  ),
  HelpDoc.p(
    "Telemetry: with OTEL_EXPORTER_OTLP_ENDPOINT set, traces and metrics are exported over OTLP/HTTP " +
      "(the standard OTEL_* variables apply: OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS, ...)."
  )
])

export const syncCommand = Command.make(
  "sync",
  { organizer, from, to, out, graphUrl, state, concurrency, sink, incremental, meeting, joinUrl, dryRun, metadataContent, json, logFormat },
  (flags) => {
    const config: SyncCommandConfig = {
      organizers: flags.organizer,
      from: Option.getOrUndefined(flags.from),
      to: Option.getOrUndefined(flags.to),
      out: flags.out,
      graphUrl: flags.graphUrl,
      state: Option.getOrUndefined(flags.state),
      concurrency: flags.concurrency,
      sinks: flags.sink,
      incremental: flags.incremental,
      meetingIds: flags.meeting,
      joinUrls: flags.joinUrl,
      dryRun: flags.dryRun,
      metadataContent: flags.metadataContent,
      json: flags.json,
      logFormat: flags.logFormat
    }
    // Loaded on use: the Graph client, sinks and their drivers are not needed for --help or a bad flag.
    return Effect.promise(() => import("./internal/runSync.js")).pipe(
      Effect.flatMap(({ runSync }) => runSync(config)),
      Effect.flatMap((code) => code === ExitCode.Ok ? Effect.void : Effect.fail(new CliExit({ code })))
    )
  }
).pipe(Command.withDescription(description))
