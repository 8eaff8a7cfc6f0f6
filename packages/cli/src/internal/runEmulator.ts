/**
 * The `emulator` command's handler, loaded on use (see EmulatorCommand.ts): --help and a bad flag
 * need none of the emulator.
 */
import {
  Emulator,
  type EmulatorOptions,
  type FaultConfig,
  type FaultProfile,
  isFaultProfile,
  type NotificationFaultConfig,
  type NotificationFaultProfile,
  parseGenerateSpec
} from "@meeting-artifacts/graph-emulator"
import * as Effect from "effect/Effect"
import * as NodeFs from "node:fs"
import { CliExit, ExitCode } from "../CliExit.js"
import type { emulatorFlags } from "./emulatorFlags.js"
import type { Resolved } from "./flags.js"
import { markServing } from "./serving.js"

export type EmulatorArgs = Resolved<typeof emulatorFlags>

const fatal = (message: string) =>
  new CliExit({ code: ExitCode.Fatal, message: `meeting-artifacts emulator: ${message}` })

const resolveFaults = (value: string): Effect.Effect<FaultProfile | FaultConfig, CliExit> => {
  if (isFaultProfile(value)) return Effect.succeed(value)
  return Effect.try({
    try: () => JSON.parse(NodeFs.readFileSync(value, "utf8")) as FaultConfig,
    catch: () =>
      fatal(
        `--faults must be none, throttled, hostile or a readable FaultConfig JSON file, got ${JSON.stringify(value)}`
      )
  })
}

const readFile = (flag: string, path: string) =>
  Effect.try({
    try: () => NodeFs.readFileSync(path, "utf8"),
    catch: () => fatal(`${flag} ${path}: cannot read the file`)
  })

const resolveNotificationFaults = (
  value: string
): Effect.Effect<NotificationFaultProfile | NotificationFaultConfig, CliExit> =>
  value === "none" || value === "hostile"
    ? Effect.succeed(value)
    : Effect.flatMap(readFile("--notification-faults", value), (text) =>
      Effect.try({
        try: () => JSON.parse(text) as NotificationFaultConfig,
        catch: () => fatal(`--notification-faults ${value}: not JSON`)
      }))

/** Serves the emulator until interrupted; fails with a `CliExit` on bad arguments. */
export const runEmulator = (args: EmulatorArgs): Effect.Effect<never, CliExit> =>
  Effect.scoped(
    Effect.gen(function*() {
      if ((args.fixture === undefined) === (args.generate === undefined)) {
        return yield* fatal("give exactly one of --fixture <file> or --generate <spec>")
      }
      if (args.fixture !== undefined && !NodeFs.existsSync(args.fixture)) {
        return yield* fatal(`--fixture ${args.fixture}: no such file`)
      }
      if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) {
        return yield* fatal("--port must be 0-65535")
      }
      const generate = args.generate
      const options: EmulatorOptions = {
        port: args.port,
        faults: yield* resolveFaults(args.faults),
        tokenEndpoint: args.tokenEndpoint,
        tls: args.tls,
        ...(args.fixture !== undefined ? { fixture: args.fixture } : {}),
        ...(generate !== undefined
          ? {
            generate: yield* Effect.try({
              try: () => parseGenerateSpec(generate),
              catch: (e) => fatal(e instanceof Error ? e.message : String(e))
            })
          }
          : {}),
        ...(args.seed !== undefined ? { seed: args.seed } : {}),
        ...(args.tokenTtl !== undefined ? { tokenTtlSeconds: args.tokenTtl } : {}),
        ...(args.pageSize !== undefined ? { pageSize: args.pageSize } : {}),
        notifications: {
          faults: yield* resolveNotificationFaults(args.notificationFaults),
          allowHttp: args.allowHttpNotifications,
          ...(args.notificationCa !== undefined
            ? { ca: yield* readFile("--notification-ca", args.notificationCa) }
            : {})
        }
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
      yield* markServing
      return yield* Effect.never
    })
  )
