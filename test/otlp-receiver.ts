/**
 * A minimal OTLP/HTTP receiver for tests: accepts `POST /v1/traces` and `POST /v1/metrics` with
 * JSON bodies (what `@opentelemetry/exporter-*-otlp-http` send; gzip when compression is on),
 * keeps every body as received, and flattens spans and metric data points for assertions.
 * Protobuf bodies are refused with 415 and recorded, so a test sees that they came.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as zlib from "node:zlib"

export interface OtlpValue {
  readonly stringValue?: string
  readonly intValue?: string | number
  readonly doubleValue?: number
  readonly boolValue?: boolean
  readonly arrayValue?: { readonly values?: ReadonlyArray<OtlpValue> }
  readonly kvlistValue?: { readonly values?: ReadonlyArray<{ key: string; value: OtlpValue }> }
}
interface OtlpKeyValue {
  readonly key: string
  readonly value: OtlpValue
}

export type Attributes = Record<string, string | number | boolean | ReadonlyArray<unknown> | null>

const valueOf = (v: OtlpValue | undefined): Attributes[string] => {
  if (v === undefined) return null
  if (v.stringValue !== undefined) return v.stringValue
  if (v.intValue !== undefined) return Number(v.intValue)
  if (v.doubleValue !== undefined) return v.doubleValue
  if (v.boolValue !== undefined) return v.boolValue
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(valueOf)
  return null
}

export const attributesOf = (kvs: ReadonlyArray<OtlpKeyValue> | undefined): Attributes => {
  const out: Attributes = {}
  for (const kv of kvs ?? []) out[kv.key] = valueOf(kv.value)
  return out
}

export interface ReceivedSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string
  readonly name: string
  readonly kind: number
  readonly status: { readonly code?: number; readonly message?: string }
  readonly attributes: Attributes
  readonly events: ReadonlyArray<{ readonly name: string; readonly attributes: Attributes }>
  readonly resource: Attributes
}

export interface ReceivedPoint {
  readonly metric: string
  readonly attributes: Attributes
  readonly value: number
  readonly monotonic: boolean
}

export interface Request {
  readonly path: string
  readonly contentType: string
  readonly headers: http.IncomingHttpHeaders
  /** The decoded body as text (after gzip), everything a grep for secrets must cover. */
  readonly body: string
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:PORT`: the value of OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly endpoint: string
  readonly requests: ReadonlyArray<Request>
  readonly spans: () => Array<ReceivedSpan>
  /** The data points of the last metrics export (the exporters send cumulative sums). */
  readonly lastMetrics: () => Array<ReceivedPoint>
  readonly close: () => Promise<void>
}

interface TracesBody {
  readonly resourceSpans?: ReadonlyArray<{
    readonly resource?: { readonly attributes?: ReadonlyArray<OtlpKeyValue> }
    readonly scopeSpans?: ReadonlyArray<{
      readonly spans?: ReadonlyArray<{
        traceId: string
        spanId: string
        parentSpanId?: string
        name: string
        kind: number
        status?: { code?: number; message?: string }
        attributes?: ReadonlyArray<OtlpKeyValue>
        events?: ReadonlyArray<{ name: string; attributes?: ReadonlyArray<OtlpKeyValue> }>
      }>
    }>
  }>
}

interface NumberPoint {
  readonly attributes?: ReadonlyArray<OtlpKeyValue>
  readonly asInt?: string | number
  readonly asDouble?: number
}

interface MetricsBody {
  readonly resourceMetrics?: ReadonlyArray<{
    readonly scopeMetrics?: ReadonlyArray<{
      readonly metrics?: ReadonlyArray<{
        name: string
        sum?: { dataPoints?: ReadonlyArray<NumberPoint>; isMonotonic?: boolean }
        gauge?: { dataPoints?: ReadonlyArray<NumberPoint> }
      }>
    }>
  }>
}

const pointValue = (p: NumberPoint): number => p.asDouble ?? Number(p.asInt ?? Number.NaN)

export const startOtlpReceiver = async (): Promise<OtlpReceiver> => {
  const requests: Array<Request> = []
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      let raw = Buffer.concat(chunks)
      if (req.headers["content-encoding"] === "gzip") raw = zlib.gunzipSync(raw)
      const contentType = req.headers["content-type"] ?? ""
      requests.push({ path: req.url ?? "", contentType, headers: req.headers, body: raw.toString("utf8") })
      if (req.method !== "POST" || !contentType.startsWith("application/json")) {
        res.writeHead(415).end()
        return
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  const json = <A>(path: string): Array<A> =>
    requests.filter((r) => r.path === path && r.contentType.startsWith("application/json")).map((r) =>
      JSON.parse(r.body) as A
    )
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    spans: () =>
      json<TracesBody>("/v1/traces").flatMap((b) =>
        (b.resourceSpans ?? []).flatMap((rs) => {
          const resource = attributesOf(rs.resource?.attributes)
          return (rs.scopeSpans ?? []).flatMap((ss) =>
            (ss.spans ?? []).map((s): ReceivedSpan => ({
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? "",
              name: s.name,
              kind: s.kind,
              status: s.status ?? {},
              attributes: attributesOf(s.attributes),
              events: (s.events ?? []).map((e) => ({ name: e.name, attributes: attributesOf(e.attributes) })),
              resource
            }))
          )
        })
      ),
    lastMetrics: () => {
      const bodies = json<MetricsBody>("/v1/metrics")
      const last = bodies[bodies.length - 1]
      if (last === undefined) return []
      return (last.resourceMetrics ?? []).flatMap((rm) =>
        (rm.scopeMetrics ?? []).flatMap((sm) =>
          (sm.metrics ?? []).flatMap((m) =>
            (m.sum?.dataPoints ?? m.gauge?.dataPoints ?? []).map((p): ReceivedPoint => ({
              metric: m.name,
              attributes: attributesOf(p.attributes),
              value: pointValue(p),
              monotonic: m.sum?.isMonotonic === true
            }))
          )
        )
      )
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
