/**
 * `<out>/failures.jsonl`: the dead letters of the last runs, one JSON object
 * per artifact that failed for good:
 *
 * ```
 * { kind, id, meetingId, organizerId, reason, status, code, requestId, at }
 * ```
 *
 * A failure of an ad hoc call or its artifacts carries `"source": "adhocCall"` after `meetingId`
 * (which holds the call's id), as in the manifest.
 *
 * Keyed by kind + id: recording the same artifact again replaces its line, and
 * `resolve` removes it once it was exported. Rewritten atomically like the manifest.
 */
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { ArtifactSource } from "@meeting-artifacts/correlate"
import { writeFileAtomic } from "./internal/atomic.js"
import * as GroupCommit from "./internal/groupCommit.js"
import { SinkError } from "./SinkError.js"
import { sinkError } from "./internal/errors.js"

const SINK = "failures"

export const FAILURES_FILE = "failures.jsonl"

export const FailureKind = Schema.Literal("recording", "transcript", "transcriptMetadata", "meeting", "organizer")
export type FailureKind = typeof FailureKind.Type

export const FailureRecord = Schema.Struct({
  kind: FailureKind,
  id: Schema.String,
  meetingId: Schema.NullOr(Schema.String),
  /** "adhocCall" when `meetingId` is an ad hoc call's id. */
  source: Schema.optional(ArtifactSource),
  organizerId: Schema.NullOr(Schema.String),
  /** A human-readable reason, e.g. the error's message. Never contains a token. */
  reason: Schema.String,
  /** HTTP status, when the failure came from Graph. */
  status: Schema.NullOr(Schema.Number),
  /** Graph error code, e.g. "Forbidden". */
  code: Schema.NullOr(Schema.String),
  /** Graph `request-id` header, for support tickets. */
  requestId: Schema.NullOr(Schema.String),
  /** ISO timestamp of the failure. */
  at: Schema.String
})
export type FailureRecord = typeof FailureRecord.Type

/**
 * One JSON line. JSON.stringify leaves DEL, the C1 controls and the line separators as they are; they are
 * escaped too (`\u009b`: the same JSON value), so `cat failures.jsonl` cannot drive a terminal with a
 * Graph-controlled id or message.
 */
export const formatFailure = (f: FailureRecord): string =>
  escapeJsonControls(JSON.stringify({
    kind: f.kind,
    id: f.id,
    meetingId: f.meetingId,
    ...(f.source !== undefined ? { source: f.source } : {}),
    organizerId: f.organizerId,
    reason: f.reason,
    status: f.status,
    code: f.code,
    requestId: f.requestId,
    at: f.at
  }))

const escapeJsonControls = (json: string): string =>
  json.replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, "0")}`)

const decode = Schema.decodeUnknownEither(Schema.parseJson(FailureRecord))

export const parseFailures = (text: string): Effect.Effect<Array<FailureRecord>, SinkError> =>
  Effect.suspend(() => {
    const out: Array<FailureRecord> = []
    const lines = text.split("\n")
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim()
      if (line === "") continue
      const r = decode(line)
      if (r._tag === "Left") {
        return Effect.fail(
          new SinkError({
            sink: SINK,
            operation: "parse",
            message: `failures line ${i + 1} is not valid: ${r.left.message}`
          })
        )
      }
      out.push(r.right)
    }
    return Effect.succeed(out)
  })

export const read = (out: string): Effect.Effect<Array<FailureRecord>, SinkError> =>
  Effect.tryPromise({
    try: () =>
      fsp.readFile(nodePath.join(out, FAILURES_FILE), "utf8").catch((e: NodeJS.ErrnoException) => {
        if (e.code === "ENOENT") return ""
        throw e
      }),
    catch: sinkError(SINK, "read")
  }).pipe(Effect.flatMap(parseFailures))

export interface FailureLogService {
  readonly path: string
  readonly entries: Effect.Effect<ReadonlyArray<FailureRecord>>
  /** Add or replace (by kind + id) and rewrite the file atomically. */
  readonly record: (failure: FailureRecord) => Effect.Effect<void, SinkError>
  /** Remove the line of an artifact that has now been exported. */
  readonly resolve: (kind: FailureKind, id: string) => Effect.Effect<void, SinkError>
  /** Remove every line (a fresh run that starts from nothing). */
  readonly clear: Effect.Effect<void, SinkError>
}

export class FailureLog extends Context.Tag("@meeting-artifacts/sinks/FailureLog")<FailureLog, FailureLogService>() {}

const keyOf = (kind: string, id: string) => `${kind}\u0000${id}`

/**
 * Load `<out>/failures.jsonl`. The file is only created when there is a
 * failure, and removed again when every failure was resolved, so an empty run
 * leaves no file.
 */
export const make = (out: string): Effect.Effect<FailureLogService, SinkError> =>
  Effect.gen(function*() {
    const file = nodePath.join(out, FAILURES_FILE)
    const map = new Map<string, FailureRecord>()
    for (const f of yield* read(out)) map.set(keyOf(f.kind, f.id), f)
    // Changes that arrive while a rewrite is in flight share the next one.
    const flush = GroupCommit.make(
      Effect.suspend(() => {
        if (map.size === 0) {
          return Effect.tryPromise({ try: () => fsp.rm(file, { force: true }), catch: sinkError(SINK, "remove") })
        }
        const text = [...map.values()].map((f) => formatFailure(f) + "\n").join("")
        return writeFileAtomic(file, text, SINK)
      })
    ).commit
    return {
      path: file,
      entries: Effect.sync(() => [...map.values()]),
      record: (failure) =>
        Effect.suspend(() => {
          map.set(keyOf(failure.kind, failure.id), failure)
          return flush
        }),
      resolve: (kind, id) => Effect.suspend(() => (map.delete(keyOf(kind, id)) ? flush : Effect.void)),
      clear: Effect.suspend(() => {
        map.clear()
        return flush
      })
    }
  })

export const layer = (out: string): Layer.Layer<FailureLog, SinkError> => Layer.effect(FailureLog, make(out))
