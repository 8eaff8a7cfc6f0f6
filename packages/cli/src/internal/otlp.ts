/**
 * The OTLP/HTTP exporters behind `@effect/opentelemetry`: Effect's spans become OpenTelemetry spans
 * (batched), Effect's metric registry is read by a periodic metric reader. Endpoints, headers,
 * timeouts and compression come from the standard `OTEL_EXPORTER_OTLP_*` variables, which the
 * exporters read themselves; the resource from `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES`.
 * Loaded only when telemetry is on (see telemetry.ts).
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
import type * as Layer from "effect/Layer"
import type { OtlpSignals } from "./telemetry.js"

export const SERVICE_NAME = "meeting-artifacts"

/** How long the end of a run waits for each signal's last export. */
export const SHUTDOWN_TIMEOUT_MS = 10_000

const positiveInt = (value: string | undefined, fallback: number): number => {
  const n = Number(value)
  return value !== undefined && Number.isInteger(n) && n > 0 ? n : fallback
}

/**
 * Metric export interval and timeout (ms): `OTEL_METRIC_EXPORT_INTERVAL` (default 60 s) and
 * `OTEL_METRIC_EXPORT_TIMEOUT` (default 30 s, at most the interval, as the reader requires). The end
 * of a run always exports, whatever the interval.
 */
const metricTiming = (env: NodeJS.ProcessEnv) => {
  const exportIntervalMillis = positiveInt(env.OTEL_METRIC_EXPORT_INTERVAL, 60_000)
  const exportTimeoutMillis = Math.min(positiveInt(env.OTEL_METRIC_EXPORT_TIMEOUT, 30_000), exportIntervalMillis)
  return { exportIntervalMillis, exportTimeoutMillis }
}

/** Whether the environment names the service already (the resource then comes from it alone). */
const namesService = (env: NodeJS.ProcessEnv): boolean =>
  (env.OTEL_SERVICE_NAME ?? "").trim() !== "" ||
  (env.OTEL_RESOURCE_ATTRIBUTES ?? "").split(",").some((kv) => kv.split("=")[0]?.trim() === "service.name")

export const layer = (signals: OtlpSignals, env: NodeJS.ProcessEnv): Layer.Layer<never> =>
  NodeSdk.layer(() => ({
    // An explicit resource would override OTEL_SERVICE_NAME: give one only when the environment has none.
    ...(namesService(env) ? {} : { resource: { serviceName: SERVICE_NAME } }),
    ...(signals.traces ? { spanProcessor: new BatchSpanProcessor(new OTLPTraceExporter()) } : {}),
    ...(signals.metrics
      ? {
        metricReader: new PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter(),
          ...metricTiming(env)
        })
      }
      : {}),
    shutdownTimeout: SHUTDOWN_TIMEOUT_MS
  }))
