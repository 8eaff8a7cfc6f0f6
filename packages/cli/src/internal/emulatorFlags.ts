/** The flags of `meeting-artifacts emulator` (flag only: a test harness, not a scheduled job). */
import { flag } from "./flags.js"

export const emulatorFlags = {
  fixture: flag("text", {
    name: "fixture",
    pseudo: "tenant.json",
    description: "Tenant fixture file (format: packages/graph-emulator/README.md).",
    required: "this or --generate"
  }),
  generate: flag("text", {
    name: "generate",
    pseudo: "spec",
    description:
      "Generate a tenant instead: organizers=2,meetings=5,seed=42,bytes=1048576 (bytes=min-max for a range), or a JSON GenerateSpec.",
    required: "this or --fixture"
  }),
  port: flag("integer", {
    name: "port",
    pseudo: "port",
    description: "Port of the Graph listener on 127.0.0.1 (0: any free port).",
    default: 0
  }),
  faults: flag("text", {
    name: "faults",
    pseudo: "profile",
    description: "Fault profile: none, throttled, hostile, or the path of a FaultConfig JSON file.",
    default: "none"
  }),
  seed: flag("integer", {
    name: "seed",
    pseudo: "n",
    description: "Seed of fault decisions (same seed + same requests = same faults)."
  }),
  tokenEndpoint: flag("boolean", {
    name: "token-endpoint",
    description:
      "Also serve an HTTPS Entra-compatible token endpoint; prints AZURE_AUTHORITY_HOST, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and NODE_EXTRA_CA_CERTS."
  }),
  tls: flag("boolean", {
    name: "tls",
    description:
      "Serve Graph over HTTPS (GRAPH_BASE_URL=https://...), as SDKs that only follow https nextLinks need; prints NODE_EXTRA_CA_CERTS."
  }),
  tokenTtl: flag("integer", {
    name: "token-ttl",
    pseudo: "seconds",
    description: "Lifetime of issued tokens.",
    defaultText: "24 h for GRAPH_ACCESS_TOKEN"
  }),
  notificationCa: flag("text", {
    name: "notification-ca",
    pseudo: "ca.pem",
    description:
      "PEM CA certificate trusted for HTTPS notification URLs of /subscriptions (a receiver with a test certificate)."
  }),
  notificationFaults: flag("text", {
    name: "notification-faults",
    pseudo: "profile",
    description:
      "Faults of change notification deliveries: none, hostile, or the path of a NotificationFaultConfig JSON file.",
    default: "none"
  }),
  allowHttpNotifications: flag("boolean", {
    name: "allow-http-notifications",
    description: "Accept http:// notification URLs (Graph requires HTTPS)."
  }),
  pageSize: flag("integer", {
    name: "page-size",
    pseudo: "n",
    description: "Default page size of lists.",
    defaultText: "10, as Graph"
  })
} as const

export const emulatorSummary = "Serve a local Graph emulator, to try it out without a tenant"

export const emulatorDescription: ReadonlyArray<string> = [
  "Serves a local Microsoft Graph emulator loaded from a fixture or a generator, on 127.0.0.1, until stopped (Ctrl-C or SIGTERM).",
  "Prints GRAPH_BASE_URL=... and GRAPH_ACCESS_TOKEN=... lines on stdout, for `meeting-artifacts sync` to read from its " +
  "environment (`eval \"$(...)\"` or `export` them); everything else goes to stderr."
]
