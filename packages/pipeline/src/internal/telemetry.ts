/**
 * The run's own metrics (Graph request metrics live in `api`). Plain Effect metrics: whoever runs
 * `sync` reads them from Effect's metric registry or exports them (the CLI through OpenTelemetry).
 * Updated synchronously by `Tally`, so each counter moves exactly where its summary field does.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"

export type ArtifactOutcome = "downloaded" | "skipped" | "failed"

/** Artifacts finished by a run, tagged `kind` (recording, transcript) and `outcome`. */
export const artifactsTotal = Metric.counter("sync_artifacts_total", {
  description:
    "Artifacts a sync finished, by kind and outcome (downloaded, skipped: already complete, failed: dead-lettered)",
  incremental: true
})

/** Metered minutes fetched, tagged `kind`: what Graph bills. */
export const meteredMinutesTotal = Metric.counter("sync_metered_minutes_total", {
  description: "Metered minutes of content fetched (recording and transcript /content, metadataContent), by kind",
  incremental: true
})

/** Content bytes written to staging by a run (the summary's `bytes`). */
export const bytesTotal = Metric.counter("sync_bytes_total", {
  description: "Content bytes received by syncs (a resumed download counts only the rest)",
  incremental: true
})

/**
 * The labels `names` = the values given, one array per distinct values: a metric finds its hook for an
 * array it has seen by identity, where fresh labels per artifact build and hash a metric key every time
 * (so does a `Metric.taggedWithLabels` counter: it joins its labels into a new array per update).
 */
const labelsOnce = (names: ReadonlyArray<string>) => {
  const made = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
  return (...values: ReadonlyArray<string>): ReadonlyArray<MetricLabel.MetricLabel> => {
    const key = values.join("\u0000")
    let labels = made.get(key)
    if (labels === undefined) {
      labels = names.map((n, i) => MetricLabel.make(n, values[i]!))
      made.set(key, labels)
    }
    return labels
  }
}
const artifactLabels = labelsOnce(["kind", "outcome"])
const kindLabels = labelsOnce(["kind"])

export const countArtifact = (kind: string, outcome: ArtifactOutcome): void =>
  artifactsTotal.unsafeUpdate(1, artifactLabels(kind, outcome))

export const countMinutes = (kind: string, minutes: number): void => {
  if (minutes > 0) meteredMinutesTotal.unsafeUpdate(minutes, kindLabels(kind))
}

export const countBytes = (bytes: number): void => {
  if (bytes > 0) bytesTotal.unsafeUpdate(bytes, [])
}

// -- spans: sync → sync.organizer → (sync.discover | sync.set → sync.artifact) → GraphClient.<endpoint> --

/** The tracer Effect uses when none is provided: its spans reach no exporter. */
const nativeTracer = Effect.runSync(Effect.tracer)

/**
 * `Effect.withSpan` for the spans made per set and per artifact: none under Effect's native tracer (nothing
 * reads them, and each cost a span object and a stack trace per artifact), and no stack trace under a real
 * one (it would name the run loop, not the caller).
 */
export const withItemSpan = (
  name: string,
  attributes: Readonly<Record<string, unknown>>
) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.tracerWith((tracer) =>
    tracer === nativeTracer ? self : Effect.withSpan(self, name, { attributes, captureStackTrace: false })
  )

/** Marks the current span (an artifact's: see `withItemSpan`, none under the native tracer) with how it ended. */
export const markOutcome = (outcome: ArtifactOutcome, bytes?: number): Effect.Effect<void> =>
  Effect.tracerWith((tracer) =>
    tracer === nativeTracer ? Effect.void : Effect.annotateCurrentSpan(
      bytes === undefined ? { "artifact.outcome": outcome } : { "artifact.outcome": outcome, "artifact.bytes": bytes }
    )
  )
