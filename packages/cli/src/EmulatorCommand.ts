/**
 * `meeting-artifacts emulator`: serves the bundled Graph emulator until stopped (SIGINT/SIGTERM).
 * stdout carries only `KEY=value` lines (GRAPH_BASE_URL, GRAPH_ACCESS_TOKEN, the AZURE_* settings with
 * --token-endpoint, NODE_EXTRA_CA_CERTS with --tls or --token-endpoint) so scripts can source them; the
 * human summary goes to stderr.
 */
import { Command, HelpDoc, Options } from "@effect/cli"
import {
  Emulator,
  type EmulatorOptions,
  type FaultConfig,
  type FaultProfile,
  isFaultProfile,
  parseGenerateSpec
} from "@meeting-artifacts/graph-emulator"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as NodeFs from "node:fs"
import { CliExit, ExitCode } from "./CliExit.js"

const fixture = Options.file("fixture", { exists: "yes" }).pipe(
  Options.withPseudoName("tenant.json"),
  Options.withDescription("Tenant fixture file (format: packages/graph-emulator/README.md)."),
  Options.optional
)
const generate = Options.text("generate").pipe(
  Options.withPseudoName("spec"),
  Options.withDescription(
    "Generate a tenant instead: organizers=2,meetings=5,seed=42,bytes=1048576 (bytes=min-max for a range), or a JSON GenerateSpec."
  ),
  Options.optional
)
const port = Options.integer("port").pipe(
  Options.withDescription("Port of the Graph listener on 127.0.0.1 (0: any free port)."),
  Options.withDefault(0)
)
const faults = Options.text("faults").pipe(
  Options.withPseudoName("profile"),
  Options.withDescription("Fault profile: none, throttled, hostile, or the path of a FaultConfig JSON file."),
  Options.withDefault("none")
)
const seed = Options.integer("seed").pipe(
  Options.withDescription("Seed of fault decisions (same seed + same requests = same faults)."),
  Options.optional
)
const tokenEndpoint = Options.boolean("token-endpoint").pipe(
  Options.withDescription(
    "Also serve an HTTPS Entra-compatible token endpoint; prints AZURE_AUTHORITY_HOST, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and NODE_EXTRA_CA_CERTS."
  )
)
const tls = Options.boolean("tls").pipe(
  Options.withDescription(
    "Serve Graph over HTTPS (GRAPH_BASE_URL=https://...), as SDKs that only follow https nextLinks need; prints NODE_EXTRA_CA_CERTS."
  )
)
const tokenTtl = Options.integer("token-ttl").pipe(
  Options.withPseudoName("seconds"),
  Options.withDescription("Lifetime of issued tokens (GRAPH_ACCESS_TOKEN: 24 h unless set)."),
  Options.optional
)
const pageSize = Options.integer("page-size").pipe(
  Options.withDescription("Default page size of lists (Graph: 10)."),
  Options.optional
)

const fatal = (message: string) => new CliExit({ code: ExitCode.Fatal, message: `meeting-artifacts emulator: ${message}` })

const resolveFaults = (value: string): Effect.Effect<FaultProfile | FaultConfig, CliExit> => {
  if (isFaultProfile(value)) return Effect.succeed(value)
  return Effect.try({
    try: () => JSON.parse(NodeFs.readFileSync(value, "utf8")) as FaultConfig,
    catch: () => fatal(`--faults must be none, throttled, hostile or a readable FaultConfig JSON file, got ${JSON.stringify(value)}`)
  })
}

export const emulatorCommand = Command.make(
  "emulator",
  { fixture, generate, port, faults, seed, tokenEndpoint, tls, tokenTtl, pageSize },
  (args) =>
    Effect.scoped(
      Effect.gen(function*() {
        if (Option.isSome(args.fixture) === Option.isSome(args.generate)) {
          return yield* fatal("give exactly one of --fixture <file> or --generate <spec>")
        }
        if (args.port < 0 || args.port > 65535) return yield* fatal("--port must be 0-65535")
        const options: EmulatorOptions = {
          port: args.port,
          faults: yield* resolveFaults(args.faults),
          tokenEndpoint: args.tokenEndpoint,
          tls: args.tls,
          ...(Option.isSome(args.fixture) ? { fixture: args.fixture.value } : {}),
          ...(Option.isSome(args.generate)
            ? {
              generate: yield* Effect.try({
                try: () => parseGenerateSpec(args.generate.pipe(Option.getOrThrow)),
                catch: (e) => fatal(e instanceof Error ? e.message : String(e))
              })
            }
            : {}),
          ...(Option.isSome(args.seed) ? { seed: args.seed.value } : {}),
          ...(Option.isSome(args.tokenTtl) ? { tokenTtlSeconds: args.tokenTtl.value } : {}),
          ...(Option.isSome(args.pageSize) ? { pageSize: args.pageSize.value } : {})
        }
        const emu = yield* Emulator.make(options).pipe(Effect.mapError((e) => fatal(e.message)))
        const lines = [`GRAPH_BASE_URL=${emu.baseUrl}`, `GRAPH_ACCESS_TOKEN=${emu.accessToken}`]
        if (emu.authority) {
          lines.push(
            `AZURE_AUTHORITY_HOST=${emu.authority.authorityHost}`,
            `AZURE_TENANT_ID=${emu.authority.tenantId}`,
            `AZURE_CLIENT_ID=${emu.authority.clientId}`,
            `AZURE_CLIENT_SECRET=${emu.authority.clientSecret}`
          )
        }
        if (emu.caFile !== undefined) lines.push(`NODE_EXTRA_CA_CERTS=${emu.caFile}`)
        const meetings = emu.fixture.meetings
        const recordings = meetings.reduce((n, m) => n + (m.recordings?.length ?? 0), 0)
        const transcripts = meetings.reduce((n, m) => n + (m.transcripts?.length ?? 0), 0)
        yield* Effect.sync(() => {
          process.stdout.write(`${lines.join("\n")}\n`)
          process.stderr.write(
            `graph-emulator: tenant ${emu.tenantId}: ${emu.fixture.users.length} users, ${meetings.length} meetings, ` +
              `${recordings} recordings, ${transcripts} transcripts; faults: ${args.faults}\n` +
              `graph-emulator: organizers: ${[...new Set(meetings.map((m) => m.organizerId))].join(",")}\n` +
              `graph-emulator: admin and counters at ${emu.origin}/_emulator/...; stop with Ctrl-C or SIGTERM\n`
          )
        })
        return yield* Effect.never
      })
    )
).pipe(
  Command.withDescription(
    HelpDoc.blocks([
      HelpDoc.p("Serve a local Microsoft Graph emulator loaded from a fixture or a generator, until stopped."),
      HelpDoc.p("Prints GRAPH_BASE_URL=... and GRAPH_ACCESS_TOKEN=... lines on stdout for `meeting-artifacts sync`.")
    ])
  )
)
