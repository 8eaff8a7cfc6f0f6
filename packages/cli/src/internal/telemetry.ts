/**
 * Whether a run exports telemetry, decided from the standard OpenTelemetry variables. The exporter
 * SDK is imported only when it does, so a run without `OTEL_EXPORTER_OTLP_*ENDPOINT` loads none of it.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** Which signals go out over OTLP/HTTP. */
export interface OtlpSignals {
  readonly traces: boolean
  readonly metrics: boolean
}

const isSet = (value: string | undefined): boolean => value !== undefined && value.trim() !== ""

/** `OTEL_<SIGNAL>_EXPORTER` is a comma-separated list whose default is `otlp`; `none` turns the signal off. */
const exporterSelected = (value: string | undefined): boolean =>
  !isSet(value) || value!.split(",").some((e) => e.trim().toLowerCase() === "otlp")

/**
 * The signals to export, or null for none: a signal is exported when `OTEL_EXPORTER_OTLP_ENDPOINT` or
 * its own `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` is set, unless `OTEL_<SIGNAL>_EXPORTER` does not list
 * `otlp` or `OTEL_SDK_DISABLED=true`.
 */
export const otlpSignals = (env: NodeJS.ProcessEnv): OtlpSignals | null => {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return null
  const shared = isSet(env.OTEL_EXPORTER_OTLP_ENDPOINT)
  const traces = (shared || isSet(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) && exporterSelected(env.OTEL_TRACES_EXPORTER)
  const metrics = (shared || isSet(env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)) &&
    exporterSelected(env.OTEL_METRICS_EXPORTER)
  return traces || metrics ? { traces, metrics } : null
}

/**
 * The tracer and metric exporters for a run, or nothing. Closing the layer exports what is still
 * buffered, waiting at most `SHUTDOWN_TIMEOUT_MS` per signal (a collector that is down costs no more).
 */
export const telemetryLayer = (env: NodeJS.ProcessEnv = process.env): Layer.Layer<never> => {
  const signals = otlpSignals(env)
  if (signals === null) return Layer.empty
  return Layer.unwrapEffect(Effect.map(Effect.promise(() => import("./otlp.js")), (otlp) => otlp.layer(signals, env)))
}
