/**
 * Telemetry of a real CLI sync against the emulator's `hostile` profile: the OTLP/HTTP exporters
 * (real packages, loaded by the CLI) send to a receiver started here, which decodes what arrives.
 * Asserts the span tree (sync → organizer → set → artifact → Graph request, retries and throttle
 * waits as events), metric values equal to the run summary, and that nothing received holds the
 * token, a secret, a raw URL or a signed redirect. Then `--log-format json` (one JSON object per
 * stderr line), with a check that without OTEL_* variables no exporter module is even loaded.
 */
import { type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, organizerArgs, runCli, tempDir } from "./helpers.js"
import { type OtlpReceiver, type ReceivedPoint, type ReceivedSpan, startOtlpReceiver } from "./otlp-receiver.js"

const logImports = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "log-imports.mjs")
const CLIENT_SECRET = "ma-test-client-secret-5f0c1e"
const PG_PASSWORD = "ma-test-pg-password-9b2d47"

const window = ["--from", "2024-01-01T00:00:00Z", "--to", "2024-03-01T00:00:00Z"]

const sumOf = (points: ReadonlyArray<ReceivedPoint>, metric: string, tags: Record<string, string> = {}) =>
  points
    .filter((p) => p.metric === metric && Object.entries(tags).every(([k, v]) => p.attributes[k] === v))
    .reduce((n, p) => n + p.value, 0)

/** Every string anywhere in a span: attributes, event attributes, status message. */
const stringsOf = (s: ReceivedSpan): Array<string> => {
  const values = [
    ...Object.values(s.attributes),
    ...s.events.flatMap((e) => Object.values(e.attributes)),
    s.status.message ?? "",
    ...Object.values(s.resource)
  ]
  return values.flatMap((v) => (Array.isArray(v) ? v : [v])).filter((v): v is string => typeof v === "string")
}

describe("telemetry", () => {
  let emu: RunningEmulator
  let receiver: OtlpReceiver
  beforeAll(async () => {
    emu = await startEmulator({
      generate: {
        organizers: 2,
        meetingsPerOrganizer: 3,
        seed: 11,
        recordingBytes: [8 * 1024, 96 * 1024],
        cues: [3, 8]
      },
      faults: "hostile",
      pageSize: 2
    })
    receiver = await startOtlpReceiver()
  })
  afterAll(async () => {
    await receiver?.close()
    await emu?.close()
  })

  it("exports the span tree and metrics of a hostile sync over OTLP/HTTP, with no secret in anything sent", async () => {
    const out = path.join(tempDir(), "out")
    const importLog = path.join(tempDir(), "imports.log")
    const result = await runCli(
      ["sync", ...organizerArgs(emu.fixture), ...window, "--out", out, "--graph-url", emu.baseUrl, "--json"],
      {
        env: cleanEnv({
          GRAPH_ACCESS_TOKEN: emu.accessToken,
          AZURE_CLIENT_SECRET: CLIENT_SECRET,
          PGPASSWORD: PG_PASSWORD,
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
          OTEL_EXPORTER_OTLP_HEADERS: "x-ma-test=from-env",
          OTEL_EXPORTER_OTLP_COMPRESSION: "gzip",
          OTEL_SERVICE_NAME: "ma-telemetry-test",
          NODE_OPTIONS: `--import=${logImports}`,
          MA_TEST_IMPORT_LOG: importLog
        })
      }
    )
    expect(result.code, result.stderr).toBe(0)
    const summary = JSON.parse(result.stdout)
    expect(summary.failures).toBe(0)
    // The profile was hostile enough to show retries and throttling.
    expect(summary.retries).toBeGreaterThan(0)
    expect(summary.throttleWaits).toBeGreaterThan(0)
    expect(fs.readFileSync(importLog, "utf8")).toContain("@opentelemetry/exporter-trace-otlp-http")

    // Both signals arrived, over OTLP/HTTP JSON, with the headers and compression the OTEL_* variables ask for.
    const paths = new Set(receiver.requests.map((r) => r.path))
    expect(paths).toEqual(new Set(["/v1/traces", "/v1/metrics"]))
    for (const r of receiver.requests) {
      expect(r.contentType).toMatch(/^application\/json/)
      expect(r.headers["x-ma-test"]).toBe("from-env")
      expect(r.headers["content-encoding"]).toBe("gzip")
    }

    // -- the span tree ------------------------------------------------------------------------
    const spans = receiver.spans()
    const byId = new Map(spans.map((s) => [s.spanId, s]))
    const parentOf = (s: ReceivedSpan) => byId.get(s.parentSpanId)
    const named = (name: string) => spans.filter((s) => s.name === name)
    const roots = named("sync")
    expect(roots).toHaveLength(1)
    const root = roots[0]!
    expect(root.parentSpanId).toBe("")
    expect(root.resource["service.name"]).toBe("ma-telemetry-test")
    expect(root.attributes).toMatchObject({
      "sync.run_id": summary.runId,
      "sync.sets": summary.sets,
      "sync.failures": 0
    })

    const organizers = named("sync.organizer")
    expect(organizers.map((s) => s.attributes["sync.organizer_id"]).sort()).toEqual(
      emu.fixture.users.map((u) => u.id).sort()
    )
    for (const o of organizers) expect(parentOf(o)).toBe(root)
    for (const d of named("sync.discover")) expect(parentOf(d)?.name).toBe("sync.organizer")

    const sets = named("sync.set")
    expect(sets).toHaveLength(summary.sets)
    for (const s of sets) expect(parentOf(s)?.name).toBe("sync.organizer")

    const artifacts = named("sync.artifact")
    for (const a of artifacts) expect(parentOf(a)?.name).toBe("sync.set")
    const downloaded = artifacts.filter((a) => a.attributes["artifact.outcome"] === "downloaded")
    expect(downloaded).toHaveLength(summary.recordings.downloaded + summary.transcripts.downloaded)
    expect(downloaded.reduce((n, a) => n + Number(a.attributes["artifact.bytes"]), 0)).toBe(summary.bytes)

    // A download started while its organizer's listings were still paging: a span under the discovery.
    const early = named("sync.download")
    for (const d of early) expect(parentOf(d)?.name).toBe("sync.discover")

    // Graph requests: one span per request, under the artifact or its early download (content), or the
    // discovery (listings).
    const requests = spans.filter((s) => s.name.startsWith("GraphClient."))
    expect(requests.length).toBeGreaterThan(0)
    for (const r of requests) {
      expect(["sync.artifact", "sync.download", "sync.discover"]).toContain(parentOf(r)?.name)
      expect(r.attributes["http.request.method"]).toBe("GET")
      // A route template: placeholders, never the ids of the request.
      expect(String(r.attributes["graph.route"])).toMatch(/^\/users\/\{userId\}\//)
      expect(typeof r.attributes["graph.attempts"]).toBe("number")
      expect(typeof r.attributes["graph.throttle_wait_ms"]).toBe("number")
      if (r.attributes["http.response.status_code"] === 200 || r.attributes["http.response.status_code"] === 206) {
        expect(String(r.attributes["graph.request_id"] ?? "")).not.toBe("")
      }
    }
    for (const a of downloaded) {
      const downloads = early.filter((d) =>
        d.attributes["artifact.id"] === a.attributes["artifact.id"] &&
        d.attributes["artifact.kind"] === a.attributes["artifact.kind"]
      )
      const content = requests.filter((r) =>
        (parentOf(r) === a || downloads.includes(parentOf(r)!)) &&
        String(r.attributes["graph.route"]).endsWith("/content")
      )
      expect(content.length, `content request under ${a.attributes["artifact.id"]}`).toBeGreaterThan(0)
      expect(content.some((r) => Number(r.attributes["http.response.body.size"]) > 0)).toBe(true)
    }
    // Every retry is an event on its request's span: why (status or transport), the wait before it.
    const retries = requests.flatMap((r) => r.events.filter((e) => e.name === "graph.retry"))
    expect(retries).toHaveLength(summary.retries)
    const throttled = retries.filter((e) => e.attributes["http.response.status_code"] === 429)
    expect(throttled).toHaveLength(summary.throttleWaits)
    // every retry's wait summed over requests; the summary's throttleWaitMs is the wall time of the
    // server-asked waits (concurrent waits count once), so never more
    const retryWaits = retries.reduce((n, e) => n + Number(e.attributes["graph.retry.delay_ms"]), 0)
    expect(requests.reduce((n, r) => n + Number(r.attributes["graph.throttle_wait_ms"]), 0)).toBe(retryWaits)
    expect(retryWaits).toBeGreaterThanOrEqual(summary.throttleWaitMs)
    expect(summary.throttleWaitMs).toBeLessThanOrEqual(summary.elapsedMs)

    // -- metrics: the last (cumulative) export equals the summary ------------------------------
    const points = receiver.lastMetrics()
    expect(sumOf(points, "graph_requests_total")).toBe(summary.requests)
    expect(sumOf(points, "graph_retries_total")).toBe(summary.retries)
    expect(sumOf(points, "graph_throttled_total")).toBe(summary.throttleWaits)
    expect(sumOf(points, "graph_retry_wait_ms_total")).toBe(retryWaits)
    expect(sumOf(points, "sync_bytes_total")).toBe(summary.bytes)
    expect(sumOf(points, "sync_metered_minutes_total", { kind: "recording" })).toBe(summary.recordingMinutes)
    expect(sumOf(points, "sync_metered_minutes_total", { kind: "transcript" })).toBe(summary.transcriptMinutes)
    for (const kind of ["recording", "transcript"] as const) {
      expect(sumOf(points, "sync_artifacts_total", { kind, outcome: "downloaded" })).toBe(
        summary[`${kind}s`].downloaded
      )
    }
    expect(points.filter((p) => p.metric === "graph_requests_total").every((p) => p.monotonic)).toBe(true)

    // -- nothing secret, nothing signed, no raw URL ---------------------------------------------
    const everything = receiver.requests.map((r) => r.body).join("\n")
    const signature = emu.accessToken.split(".").pop()!
    for (
      const secret of [emu.accessToken, signature, CLIENT_SECRET, PG_PASSWORD, "Bearer", emu.secondOrigin, emu.origin]
    ) {
      expect(everything).not.toContain(secret)
    }
    expect(everything).not.toMatch(/\$?(skiptoken|deltatoken)=/i)
    for (const s of spans) {
      for (const v of stringsOf(s)) expect(v, `${s.name}`).not.toMatch(/https?:\/\//)
    }
  })

  it("--log-format json writes progress and the summary as JSON lines on stderr, and loads no exporter without OTEL_*", async () => {
    const out = path.join(tempDir(), "out")
    const importLog = path.join(tempDir(), "imports.log")
    const before = receiver.requests.length
    const result = await runCli(
      [
        "sync",
        ...organizerArgs(emu.fixture),
        ...window,
        "--out",
        out,
        "--graph-url",
        emu.baseUrl,
        "--json",
        "--log-format",
        "json"
      ],
      {
        env: cleanEnv({
          GRAPH_ACCESS_TOKEN: emu.accessToken,
          NODE_OPTIONS: `--import=${logImports}`,
          MA_TEST_IMPORT_LOG: importLog
        })
      }
    )
    expect(result.code, result.stderr).toBe(0)
    const summary = JSON.parse(result.stdout)
    // No OTEL_EXPORTER_OTLP_*ENDPOINT: no exporter module resolved, nothing sent.
    const imports = fs.readFileSync(importLog, "utf8")
    expect(imports).toMatch(/\/packages\/cli\/dist\/bin\.js/) // the log works: the run's own modules are in it
    expect(imports).not.toMatch(/opentelemetry/)
    expect(receiver.requests.length).toBe(before)

    const lines = result.stderr.split("\n").filter((l) => l !== "")
    expect(result.stderr).not.toMatch(/\u001b\[/)
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    for (const r of records) {
      expect(["debug", "info", "warn", "error"]).toContain(r.level)
      expect(new Date(String(r.time)).toISOString()).toBe(r.time)
      expect(typeof r.event).toBe("string")
    }
    const events = (name: string) => records.filter((r) => r.event === name)
    expect(events("run_started")).toMatchObject([{ runId: summary.runId, dryRun: false }])
    expect(events("discovered").map((r) => r.organizerId).sort()).toEqual(emu.fixture.users.map((u) => u.id).sort())
    expect(events("artifact_completed")).toHaveLength(summary.recordings.downloaded + summary.transcripts.downloaded)
    expect(events("artifact_completed").reduce((n, r) => n + Number(r.bytes), 0)).toBeGreaterThan(0)
    const { level, time, event, ...fields } = events("summary")[0] ?? {}
    expect({ level, event }).toEqual({ level: "info", event: "summary" })
    expect(fields).toEqual(summary)
  })

  it("--log-format json reports a fatal error as one JSON line", async () => {
    const out = path.join(tempDir(), "out")
    const result = await runCli(
      [
        "sync",
        "--organizer",
        "u1",
        ...window,
        "--out",
        out,
        "--graph-url",
        "ftp://example.invalid",
        "--log-format",
        "json"
      ],
      { env: cleanEnv({ GRAPH_ACCESS_TOKEN: "t" }) }
    )
    expect(result.code).toBe(2)
    const lines = result.stderr.split("\n").filter((l) => l !== "")
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: "error",
      event: "fatal",
      message: expect.stringContaining("--graph-url")
    })
  })
})
