/**
 * The flags of `meeting-artifacts sync`: each one's environment variable, config-file key, default
 * and check. Defaults and bounds of the tenant knobs are `GraphPolicy`'s (their one home).
 */
import { DEFAULT_BASE_URL } from "@meeting-artifacts/api/GraphUrl"
import { defaultPolicy, policyValueProblem } from "@meeting-artifacts/api/GraphPolicy"
import { defaultStatePath } from "@meeting-artifacts/sinks/Layout"
import { envName, flag } from "./flags.js"

const configurable = <const N extends string>(name: N) => ({ name, env: envName(name), inFile: true }) as const

/** `--out`, required (as `listen` has it; `sync` has it too unless --tenants). */
export const outFlag = flag("text", {
  ...configurable("out"),
  pseudo: "dir",
  description: "Output directory: content files, manifest.jsonl, failures.jsonl.",
  required: "required"
})

export const syncFlags = {
  config: flag("text", {
    name: "config",
    env: "MEETING_ARTIFACTS_CONFIG",
    pseudo: "file",
    description: "Read flag values from this JSON or YAML file (keys named like the flags, e.g. graph-url: ...)."
  }),
  organizer: flag("list", {
    ...configurable("organizer"),
    pseudo: "userId",
    description: "Organizer whose meetings are exported (user object id or UPN). Repeat for several.",
    required: "required unless --tenants",
    requiredUnless: "tenants"
  }),
  from: flag("text", {
    ...configurable("from"),
    pseudo: "ISO datetime",
    description: "Window start, ISO 8601 (e.g. 2024-01-15T00:00:00Z); a date alone is midnight, no zone means UTC.",
    required: "required unless --meeting or --join-url (or --adhoc-call)"
  }),
  to: flag("text", {
    ...configurable("to"),
    pseudo: "ISO datetime",
    description: "Window end, ISO 8601, after --from. An --incremental run without it exports everything since --from.",
    required: "required unless --meeting, --join-url, --adhoc-call or --incremental"
  }),
  out: {
    ...outFlag,
    description: `${outFlag.description} With --tenants: the parent of the folders of tenants without their own out.`,
    required: "required unless --tenants",
    requiredUnless: "tenants"
  },
  graphUrl: flag("text", {
    ...configurable("graph-url"),
    // The emulator prints GRAPH_BASE_URL=... for exactly this.
    env: "GRAPH_BASE_URL",
    pseudo: "base URL",
    description: "Graph base URL: national clouds, beta, or an emulator.",
    default: DEFAULT_BASE_URL
  }),
  allowInsecureHttp: flag("boolean", {
    ...configurable("allow-insecure-http"),
    description:
      "Allow an http:// --graph-url to a host other than this machine: the access token then crosses the network unencrypted."
  }),
  state: flag("text", {
    ...configurable("state"),
    pseudo: "path|url",
    description:
      "Checkpoint store: a SQLite file or a postgres:// URL; `postgres` alone takes DATABASE_URL, else the PG* variables " +
      "(a URL without a password takes PGPASSWORD).",
    defaultText: defaultStatePath("<out>")
  }),
  concurrency: flag("integer", {
    ...configurable("concurrency"),
    pseudo: "n",
    description: "Concurrent content downloads (metered /content calls), 1-64.",
    default: defaultPolicy.maxConcurrentDownloads,
    check: (n: number) => policyValueProblem("maxConcurrentDownloads", n)
  }),
  rate: flag("number", {
    ...configurable("rate"),
    pseudo: "requests/s",
    description:
      "Graph requests per second for the tenant, shared by every download and listing (Graph's budget is per app and tenant).",
    default: defaultPolicy.requestsPerSecond,
    check: (n: number) => policyValueProblem("requestsPerSecond", n)
  }),
  maxRequests: flag("integer", {
    ...configurable("max-requests"),
    pseudo: "n",
    description: "Graph requests in flight at once, downloads included; at least --concurrency.",
    defaultText: `${defaultPolicy.maxConcurrentRequests}, or --concurrency when that is larger`,
    check: (n: number) => policyValueProblem("maxConcurrentRequests", n)
  }),
  sink: flag("list", {
    ...configurable("sink"),
    pseudo: "spec",
    description:
      "Extra record sink, repeatable: sqlite:<file>, postgres:<url> (or `postgres` alone: DATABASE_URL / PG*), parquet:<dir>, " +
      "azure-blob:<container>[/<prefix>] (credentials from AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_URL with " +
      "@azure/identity); <kind>+append: keeps history."
  }),
  incremental: flag("boolean", {
    ...configurable("incremental"),
    description: "Resume discovery from the delta links stored by the previous run: fetch only new artifacts."
  }),
  meeting: flag("list", {
    ...configurable("meeting"),
    pseudo: "id",
    description: "Export only this online meeting id (repeatable)."
  }),
  joinUrl: flag("list", {
    ...configurable("join-url"),
    pseudo: "url",
    description: "Export only the meeting with this join URL (repeatable)."
  }),
  adhocCall: flag("list", {
    ...configurable("adhoc-call"),
    pseudo: "id",
    description:
      "Export only this ad hoc call (1:1, group or PSTN call, started by an --organizer; repeatable; in the window if one " +
      "is given). Needs CallRecordings.Read.All / CallTranscripts.Read.All."
  }),
  adhocCalls: flag("boolean", {
    ...configurable("adhoc-calls"),
    description:
      "Also export every ad hoc call (1:1, group, PSTN) each --organizer started in the window, incrementally with " +
      "--incremental. Manifest lines of calls carry \"source\": \"adhocCall\" and the call id as meetingId."
  }),
  dryRun: flag("boolean", {
    ...configurable("dry-run"),
    description: "List what would be fetched and the metered minutes and cost; download and write nothing."
  }),
  metadataContent: flag("boolean", {
    ...configurable("metadata-content"),
    description:
      "Also export each transcript's metadataContent (speaker, language and absolute times per cue; metered) as transcript-<id>.metadata.json."
  }),
  cluster: flag("text", {
    ...configurable("cluster"),
    pseudo: "postgres url",
    description:
      "Run on the cluster of `meeting-artifacts runner` processes sharing this Postgres (it also holds the checkpoint " +
      "state): submit the export, or attach to the same export's run in progress, and wait for it. --out must be a " +
      "folder every runner sees at the same path. --dry-run runs here, against the cluster's checkpoint state."
  }),
  tenants: flag("text", {
    ...configurable("tenants"),
    pseudo: "file",
    description:
      "Export several tenants: a JSON file listing each one's name, tenantId, clientId, credential reference (the " +
      "variable or certificate file holding its secret) and organizers, and optionally out (default <--out>/<name>), " +
      "graphUrl, rate, maxRequests and concurrency (see the README's \"Several tenants\"). --organizer cannot be " +
      "combined with it."
  }),
  json: flag("boolean", {
    ...configurable("json"),
    description: "Print the run summary as one JSON object on stdout (progress stays on stderr)."
  }),
  logFormat: flag("text", {
    ...configurable("log-format"),
    pseudo: "human|json",
    description:
      "Progress, warnings, errors and the summary on stderr: human (bars on a terminal, plain lines otherwise) or json " +
      "(one JSON object per line: level, time, event, fields).",
    default: "human"
  })
} as const

/**
 * Why `concurrency` downloads cannot all run under the `maxRequests` given (each download is one
 * request in flight), or undefined. `names` are how the two settings are spelled where they came from.
 */
export const downloadsAboveRequests = (
  concurrency: number,
  maxRequests: number | undefined,
  names: { readonly concurrency: string; readonly maxRequests: string }
): string | undefined =>
  maxRequests !== undefined && concurrency > maxRequests
    ? `${names.concurrency} ${concurrency} is above ${names.maxRequests} ${maxRequests}: every download is a Graph ` +
      `request, so at most ${maxRequests} could run; raise ${names.maxRequests} to at least ${concurrency}, or lower ` +
      names.concurrency
    : undefined

export const syncSummary = "Export recordings and transcripts of a window of meetings"

export const syncDescription: ReadonlyArray<string> = [
  "Exports Teams meeting recordings and transcripts, joined by contentCorrelationId, into <out>. Resumable (re-run " +
  "after a crash: completed content is never downloaded again) and incremental (--incremental).",
  "Every flag can also come from its environment variable (lists comma-separated) or from a --config file; " +
  "a flag beats the environment, which beats the file, which beats the default.",
  "Auth: GRAPH_ACCESS_TOKEN (a static bearer token) if set; otherwise @azure/identity: AZURE_TENANT_ID + AZURE_CLIENT_ID + " +
  "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH, else DefaultAzureCredential (managed identity, Azure CLI, ...). " +
  "AZURE_AUTHORITY_HOST selects the Entra authority, GRAPH_SCOPE the token scope. A variable set but empty is an error.",
  "Telemetry: with OTEL_EXPORTER_OTLP_ENDPOINT set, traces and metrics are exported over OTLP/HTTP " +
  "(the standard OTEL_* variables apply: OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS, ...).",
  "Exit codes: 0 everything exported; 1 some items failed for good (listed in <out>/failures.jsonl, everything else " +
  "exported); 2 fatal (bad arguments or configuration, auth, a tenant-wide 403/402, another sync holding --out or --state)."
]
