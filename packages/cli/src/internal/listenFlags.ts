/**
 * The flags of `meeting-artifacts listen`. Flags it shares with `sync` (output, state, Graph, sinks,
 * tenant knobs, logs) are `sync`'s own entries; the listen knobs' defaults and bounds are the pipeline's
 * `ListenLimits` (their one home).
 */
import {
  DEFAULT_LISTEN_PORT,
  DEFAULT_QUEUE_LIMIT,
  LONG_SUBSCRIPTION_MINUTES,
  portProblem,
  queueLimitProblem,
  SHORT_SUBSCRIPTION_MINUTES
} from "@meeting-artifacts/pipeline/ListenLimits"
import { envName, flag } from "./flags.js"
import { outFlag, syncFlags } from "./syncFlags.js"

const configurable = <const N extends string>(name: N) => ({ name, env: envName(name), inFile: true }) as const

export const listenFlags = {
  config: syncFlags.config,
  notificationUrl: flag("text", {
    ...configurable("notification-url"),
    pseudo: "https url",
    description:
      "The public HTTPS URL Graph posts notifications to: a reverse proxy or tunnel that forwards to this process.",
    required: "required"
  }),
  lifecycleUrl: flag("text", {
    ...configurable("lifecycle-url"),
    pseudo: "https url",
    description:
      "The public HTTPS URL for lifecycle events (may equal --notification-url); Graph requires one for subscriptions " +
      "past an hour."
  }),
  port: flag("integer", {
    ...configurable("port"),
    pseudo: "port",
    description: "Local port the proxy or tunnel forwards to (0: any free port; LISTEN_URL says which).",
    default: DEFAULT_LISTEN_PORT,
    check: portProblem
  }),
  host: flag("text", {
    ...configurable("host"),
    pseudo: "address",
    description: "Local address to bind (0.0.0.0 to take the proxy's connections from another host).",
    default: "127.0.0.1"
  }),
  tlsCert: flag("text", {
    ...configurable("tls-cert"),
    pseudo: "file",
    description:
      "Serve HTTPS locally with this PEM certificate (with --tls-key), for a proxy or tunnel that expects it."
  }),
  tlsKey: flag("text", {
    ...configurable("tls-key"),
    pseudo: "file",
    description: "The PEM private key of --tls-cert."
  }),
  organizer: flag("list", {
    ...configurable("organizer"),
    pseudo: "userId",
    description:
      "Organizer to catch up through delta links on start and after a `missed` event (organizers of exported artifacts " +
      "are caught up too). Repeat for several."
  }),
  perOrganizer: flag("boolean", {
    ...configurable("per-organizer"),
    description:
      "Subscribe to users/{id}/onlineMeetings/getAllRecordings|getAllTranscripts for each --organizer instead of the " +
      "tenant-wide communications/onlineMeetings/getAll… resources."
  }),
  catchUpFrom: flag("text", {
    ...configurable("catch-up-from"),
    pseudo: "ISO datetime",
    description: "Start of the catch-up window (delta links start here).",
    defaultText: "the first start of listen on this state, less a day"
  }),
  subscriptionMinutes: flag("number", {
    ...configurable("subscription-minutes"),
    pseudo: "minutes",
    description: "Lifetime asked for each subscription (renewed before it ends); at most 60 without --lifecycle-url.",
    defaultText: `${SHORT_SUBSCRIPTION_MINUTES}, or ${LONG_SUBSCRIPTION_MINUTES} with --lifecycle-url`
  }),
  queueLimit: flag("integer", {
    ...configurable("queue-limit"),
    pseudo: "n",
    description: "Announced artifacts stored and not yet exported at most; past it Graph gets 503 + Retry-After.",
    default: DEFAULT_QUEUE_LIMIT,
    check: queueLimitProblem
  }),
  certificate: flag("text", {
    ...configurable("certificate"),
    pseudo: "file",
    description:
      "Your own PEM encryption certificate (with --certificate-key) instead of the ones listen generates and rotates " +
      "under the state directory."
  }),
  certificateKey: flag("text", {
    ...configurable("certificate-key"),
    pseudo: "file",
    description: "The PEM private key of --certificate."
  }),
  tenantId: flag("text", {
    name: "tenant-id",
    env: "AZURE_TENANT_ID",
    inFile: true,
    pseudo: "id",
    description: "The tenant whose notifications are accepted (the tid Graph's validation tokens must name)."
  }),
  clientId: flag("text", {
    name: "client-id",
    env: "AZURE_CLIENT_ID",
    inFile: true,
    pseudo: "id",
    description: "The app (client) id: the audience Graph's validation tokens must name."
  }),
  out: outFlag,
  state: syncFlags.state,
  sink: syncFlags.sink,
  graphUrl: syncFlags.graphUrl,
  allowInsecureHttp: syncFlags.allowInsecureHttp,
  concurrency: syncFlags.concurrency,
  rate: syncFlags.rate,
  maxRequests: syncFlags.maxRequests,
  metadataContent: syncFlags.metadataContent,
  logFormat: syncFlags.logFormat
} as const

export const listenSummary = "Export recordings and transcripts as Graph announces them"

export const listenDescription: ReadonlyArray<string> = [
  "Serves an endpoint for Graph change notifications, subscribes to new recordings and transcripts (includeResourceData, " +
  "encrypted with a certificate listen generates and rotates), and exports each announced artifact with its partner into " +
  "<out> with the same files, manifest and checkpoints as sync. A notification is acknowledged only once stored in the " +
  "checkpoint store; forged or replayed ones are refused and never trigger a download.",
  "Expose the local port through a reverse proxy or tunnel with a public HTTPS URL (--notification-url). Needs the " +
  "application permissions OnlineMeetingRecording.Read.All and OnlineMeetingTranscript.Read.All.",
  "Prints LISTEN_URL=<local url> on stdout once the subscriptions are in place; events on stderr; stops on Ctrl-C or " +
  "SIGTERM (exit 0). The subscriptions stay: the next start keeps them and catches up what came in between.",
  "Exit codes: 0 stopped by a signal; 2 fatal (bad arguments, auth, a tenant-wide 403/402, a port that cannot be bound, " +
  "another run holding --out or --state)."
]
