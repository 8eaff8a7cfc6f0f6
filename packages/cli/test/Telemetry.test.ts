import { describe, expect, it } from "vitest"
import { otlpSignals } from "../src/internal/telemetry.js"

const endpoint = "http://127.0.0.1:4318"

describe("which OTEL_* variables turn exporting on", () => {
  it("exports nothing without an OTLP endpoint", () => {
    expect(otlpSignals({})).toBeNull()
    expect(otlpSignals({ OTEL_SERVICE_NAME: "x", OTEL_EXPORTER_OTLP_ENDPOINT: " " })).toBeNull()
  })

  it("exports both signals with the shared endpoint, one with its own endpoint", () => {
    expect(otlpSignals({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint })).toEqual({ traces: true, metrics: true })
    expect(otlpSignals({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/v1/traces` })).toEqual({
      traces: true,
      metrics: false
    })
    expect(otlpSignals({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${endpoint}/v1/metrics` })).toEqual({
      traces: false,
      metrics: true
    })
  })

  it("honours OTEL_<signal>_EXPORTER and OTEL_SDK_DISABLED", () => {
    expect(otlpSignals({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_METRICS_EXPORTER: "none" })).toEqual({
      traces: true,
      metrics: false
    })
    expect(otlpSignals({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_EXPORTER: "console, otlp" })).toEqual({
      traces: true,
      metrics: true
    })
    expect(
      otlpSignals({
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_TRACES_EXPORTER: "none",
        OTEL_METRICS_EXPORTER: "none"
      })
    ).toBeNull()
    expect(otlpSignals({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SDK_DISABLED: "TRUE" })).toBeNull()
  })
})
