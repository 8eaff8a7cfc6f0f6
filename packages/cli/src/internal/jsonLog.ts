/**
 * `--log-format json`: progress, warnings, errors and the summary as JSON lines on stderr, for log
 * collectors. One object per line: `level`, `time` (ISO 8601), `event`, then the event's fields.
 * JSON.stringify escapes whatever ids and messages contain, so a line is always one line.
 */
import type { ProgressEvent } from "@meeting-artifacts/pipeline"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import type * as Stream from "effect/Stream"
import { forEachBatch } from "./render.js"

export type LogLevel = "debug" | "info" | "warn" | "error"

/** One JSON log line (with its newline). */
export const jsonLine = (
  level: LogLevel,
  event: string,
  fields: Readonly<Record<string, unknown>> = {},
  now = new Date()
): string => `${JSON.stringify({ level, time: now.toISOString(), event, ...fields })}\n`

/** Each progress event's level and name; null for the per-chunk and periodic ones (bytes, stats). */
const EVENTS: { readonly [K in ProgressEvent["_tag"]]: readonly [LogLevel, string] | null } = {
  RunStarted: ["info", "run_started"],
  Discovered: ["info", "discovered"],
  ArtifactStarted: ["debug", "artifact_started"],
  ArtifactBytes: null,
  ArtifactCompleted: ["info", "artifact_completed"],
  ArtifactFailed: ["warn", "artifact_failed"],
  SetWritten: ["debug", "set_written"],
  Retrying: ["info", "retrying"],
  Stats: null,
  RunFinished: ["info", "summary"]
}

/** The line for a progress event, or null; the summary's fields are the run summary's, `warn` when items failed. */
export const eventLine = (event: ProgressEvent, now = new Date()): string | null => {
  const kind = EVENTS[event._tag]
  if (kind === null) return null
  if (event._tag === "RunFinished") {
    const level = event.summary.failures > 0 ? "warn" : kind[0]
    return jsonLine(level, kind[1], event.summary as unknown as Record<string, unknown>, now)
  }
  const { _tag, ...fields } = event
  return jsonLine(kind[0], kind[1], fields, now)
}

/** Writes each event's line to `out` (stderr) until the stream ends (`ended`: see `forEachBatch`). */
export const renderJsonLog = <E, R>(
  events: Stream.Stream<ProgressEvent, E, R>,
  out: NodeJS.WritableStream = process.stderr,
  ended?: Effect.Effect<void>
): Effect.Effect<void, E, R> =>
  // The events that are ready go out in one write, not one system call each.
  forEachBatch(events, (chunk) => {
    let text = ""
    for (const event of chunk) text += eventLine(event) ?? ""
    if (text !== "") out.write(text)
  }, ended)

const levelOf = (label: string): LogLevel =>
  label === "WARN" ? "warn" : label === "ERROR" || label === "FATAL" ? "error" : label === "INFO" ? "info" : "debug"

/** Effect's own log calls (e.g. a sink's warning) as `event: "log"` lines, annotations as fields. */
export const jsonLogger = (out: NodeJS.WritableStream = process.stderr): Logger.Logger<unknown, void> =>
  Logger.make(({ annotations, cause, date, logLevel, message }) => {
    const text = (Array.isArray(message) ? message : [message]).map((
      m
    ) => (typeof m === "string" ? m : JSON.stringify(m)))
      .join(" ")
    const fields: Record<string, unknown> = { message: text }
    for (const [k, v] of HashMap.toEntries(annotations)) fields[k] = v
    if (!Cause.isEmpty(cause)) fields.cause = Cause.pretty(cause)
    out.write(jsonLine(levelOf(logLevel.label), "log", fields, date))
  })
