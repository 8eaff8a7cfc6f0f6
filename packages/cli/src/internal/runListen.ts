/**
 * Runs `listen` until SIGTERM/SIGINT: LISTEN_URL=<local url> on stdout once serving, one line per event on
 * stderr (human, or JSON lines with --log-format json).
 */
import { type ListenEvent, listen, SyncFatalError } from "@meeting-artifacts/pipeline"
import { Layout } from "@meeting-artifacts/sinks"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import { ExitCode } from "../CliExit.js"
import type { Resolved } from "./flags.js"
import { jsonLine, jsonLogger } from "./jsonLog.js"
import type { listenFlags } from "./listenFlags.js"
import { describeSetupError, exportLayer } from "./runSync.js"
import { markServing } from "./serving.js"
import type { LogFormat } from "./syncConfig.js"
import { escapeControl } from "./terminal.js"
import { telemetryLayer } from "./telemetry.js"

export type ListenCommandConfig = Omit<Resolved<typeof listenFlags>, "logFormat"> & { readonly logFormat: LogFormat }

const oneLine = (message: string) => escapeControl(message.replace(/\s*\n\s*/g, " ").trim())

/** An event as the level, name and fields of a log line. */
const describe = (
  e: ListenEvent
): readonly [level: "info" | "warn" | "debug", name: string, fields: Readonly<Record<string, unknown>>] => {
  const { _tag, ...fields } = e
  const level = _tag === "NotificationRejected" || _tag === "QueueFull" || _tag === "Warning"
    ? "warn"
    : _tag === "NotificationAccepted"
    ? "debug"
    : "info"
  // snake_case names, as the sync's JSON log.
  return [level, _tag.replace(/[A-Z]/g, (c, i) => `${i === 0 ? "" : "_"}${c.toLowerCase()}`), fields]
}

const writer = (format: LogFormat) => (e: ListenEvent): void => {
  const [level, name, fields] = describe(e)
  process.stderr.write(
    format === "json"
      ? jsonLine(level, name, fields)
      : `meeting-artifacts listen: ${name.replace(/_/g, " ")} ${oneLine(JSON.stringify(fields))}\n`
  )
}

const readFile = (flag: string, file: string): string | Error => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch (e) {
    return new Error(`${flag} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`)
  }
}

/** Both files of a pair, or neither; an Error naming what is wrong. */
const pemPair = (
  certFlag: string,
  cert: string | undefined,
  keyFlag: string,
  key: string | undefined
): { readonly cert: string; readonly key: string } | null | Error => {
  if (cert === undefined && key === undefined) return null
  if (cert === undefined || key === undefined) return new Error(`${certFlag} and ${keyFlag} go together`)
  const c = readFile(certFlag, cert)
  if (c instanceof Error) return c
  const k = readFile(keyFlag, key)
  if (k instanceof Error) return k
  return { cert: c, key: k }
}

/** Runs `listen` and returns the exit code (0 after a signal, 2 fatal); never fails. */
export const runListen = (config: ListenCommandConfig): Effect.Effect<number> =>
  Effect.gen(function*() {
    const fatal = (message: string) =>
      Effect.as(
        Effect.sync(() =>
          process.stderr.write(
            config.logFormat === "json"
              ? jsonLine("error", "fatal", { message: oneLine(message) })
              : `meeting-artifacts listen: ${oneLine(message)}\n`
          )
        ),
        ExitCode.Fatal
      )
    const tls = pemPair("--tls-cert", config.tlsCert, "--tls-key", config.tlsKey)
    if (tls instanceof Error) return yield* fatal(tls.message)
    const certificate = pemPair("--certificate", config.certificate, "--certificate-key", config.certificateKey)
    if (certificate instanceof Error) return yield* fatal(certificate.message)
    const layer = yield* exportLayer(config, false)
    if (layer._tag === "Left") return yield* fatal(layer.left)
    const write = writer(config.logFormat)
    const onEvent = (e: ListenEvent) => {
      // The one stdout line, once the endpoint serves and the subscriptions are in place; from then on
      // SIGINT/SIGTERM (which close the server; the subscriptions stay for the next start) end with 0.
      if (e._tag === "Serving") {
        process.stdout.write(`LISTEN_URL=${e.url}\n`)
        Effect.runSync(markServing)
      }
      write(e)
    }
    // Generated certificates live beside the default state file (or in <out>'s state folder for Postgres).
    const stateDir = config.state !== undefined && !/^postgres(ql)?:/i.test(config.state)
      ? nodePath.dirname(nodePath.resolve(config.state))
      : nodePath.join(nodePath.resolve(config.out), Layout.STATE_DIR)
    const program = listen({
      notificationUrl: config.notificationUrl,
      lifecycleNotificationUrl: config.lifecycleUrl,
      port: config.port,
      host: config.host,
      tls: tls ?? undefined,
      out: config.out,
      organizers: config.organizer,
      perOrganizer: config.perOrganizer,
      catchUpFrom: config.catchUpFrom,
      subscriptionMinutes: config.subscriptionMinutes,
      queueLimit: config.queueLimit,
      concurrency: config.concurrency,
      metadataContent: config.metadataContent,
      certificateDir: nodePath.join(stateDir, "listen-certificates"),
      certificate: certificate ?? undefined,
      appId: config.clientId ?? "",
      tenantIds: config.tenantId === undefined ? [] : [config.tenantId],
      authorityHost: process.env.AZURE_AUTHORITY_HOST
    }, onEvent).pipe(
      Effect.provide(layer.right),
      Effect.provide(telemetryLayer()),
      config.logFormat === "json" ? Effect.provide(Logger.replace(Logger.defaultLogger, jsonLogger())) : (e) => e
    )
    return yield* program.pipe(
      Effect.catchAll((e) =>
        e instanceof SyncFatalError
          ? fatal(e.oneLine)
          : e._tag === "InvalidListenOptions"
          ? fatal(e.message)
          : fatal(describeSetupError(e))
      )
    )
  })
