/**
 * Shared test material: a small tenant whose ids contain `/`, `+` and `=`,
 * and helpers to run a GraphClient against an emulator over loopback HTTP.
 */
import type { FixtureMeeting, TenantFixture } from "@meeting-artifacts/graph-emulator"
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import { type Content, GraphClient, type GraphClientOptions } from "../src/index.js"

export const ALICE = "a1a1a1a1-0000-4000-8000-00000000a11c"
export const BOB = "b0b0b0b0-0000-4000-8000-0000000000b0"
export const WINDOW = { organizerId: ALICE, startDateTime: "2024-01-15T00:00:00Z", endDateTime: "2024-02-15T00:00:00Z" }

export const meetingId = (i: number) => Buffer.from(`1*${ALICE}*0**19:meeting_${i}+x/y@thread.v2`).toString("base64")
export const recordingId = (i: number) => `rec/${i}+Zm9v=`
export const transcriptId = (i: number) => `tr/${i}+YmFy==`

export const vtt = (i: number) =>
  `WEBVTT\r\n\r\n5f0c2a9e-1d7b-4c61-9a3e-2b8f4d6e7a10/18-0\r\n00:00:03.833 --> 00:00:10.338\r\n<v Okonkwo, Adaeze>Meeting ${i}: let's start.</v>\r\n\r\n5f0c2a9e-1d7b-4c61-9a3e-2b8f4d6e7a10/17-0\r\n00:00:04.153 --> 00:00:05.193\r\n<v Jürgen Weiß>Sounds good.</v>\r\n`

export const metadataVtt = (i: number) =>
  `WEBVTT\n\n00:00:03.833 --> 00:00:10.338\n{"startDateTime":"2024-01-16T09:00:03.833Z","endDateTime":"2024-01-16T09:00:10.338Z","speakerName":"Okonkwo, Adaeze","spokenText":"Meeting ${i}","spokenLanguage":"en-us"}\n`

export const RECORDING_BYTES = (i: number) => 150_000 + i * 7919

export const makeMeeting = (i: number): FixtureMeeting => {
  const day = String(16 + i).padStart(2, "0")
  return {
    id: meetingId(i),
    organizerId: ALICE,
    subject: `Meeting ${i}`,
    joinWebUrl:
      `https://teams.microsoft.com/l/meetup-join/19%3ameeting_${i}%40thread.v2/0?context=%7b%22Tid%22%3a%22t%22%7d`,
    startDateTime: `2024-01-${day}T09:00:00Z`,
    endDateTime: `2024-01-${day}T10:00:00Z`,
    recordings: [
      {
        id: recordingId(i),
        callId: `c0ffee00-0000-4000-8000-00000000000${i}`,
        contentCorrelationId: `cc000000-0000-4000-8000-00000000000${i}-0`,
        createdDateTime: `2024-01-${day}T09:00:01.1234567Z`,
        endDateTime: `2024-01-${day}T10:00:00.7654321Z`,
        contentType: "video/mp4",
        content: { bytes: RECORDING_BYTES(i), seed: i + 1 }
      }
    ],
    transcripts: [
      {
        id: transcriptId(i),
        callId: `c0ffee00-0000-4000-8000-00000000000${i}`,
        contentCorrelationId: `cc000000-0000-4000-8000-00000000000${i}-0`,
        createdDateTime: `2024-01-${day}T09:00:02.1234567Z`,
        endDateTime: `2024-01-${day}T10:00:00.7654321Z`,
        content: { text: vtt(i) },
        metadataContent: { text: metadataVtt(i) }
      }
    ]
  }
}

export const MEETINGS = 5

export const tenant = (): TenantFixture => ({
  tenantId: "7e57e57e-0000-4000-8000-000000007e57",
  users: [
    { id: ALICE, displayName: "Okonkwo, Adaeze", userPrincipalName: "adaeze@example.test" },
    { id: BOB, displayName: "Bob", userPrincipalName: "bob@example.test" }
  ],
  meetings: Array.from({ length: MEETINGS }, (_, i) => makeMeeting(i))
})

export const clientLayer = (
  emu: { readonly baseUrl: string; readonly accessToken: string },
  options?: Partial<GraphClientOptions>
) =>
  GraphClient.layer({
    baseUrl: emu.baseUrl,
    credential: Redacted.make(emu.accessToken),
    ...options,
    policy: { baseDelayMs: 20, maxBackoffMs: 500, ...options?.policy }
  })

export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** Collects a byte stream (for the small artifacts of tests). */
export const collectBytes = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  Effect.map(
    Stream.runFold(stream, [] as Array<Uint8Array>, (acc, c) => {
      acc.push(c)
      return acc
    }),
    (parts) => new Uint8Array(Buffer.concat(parts))
  )

/** Collects a body through `Content.drain` (its chunks copied: they are the consumer's only until `push` returns). */
export const drainBytes = (content: Content) =>
  Effect.suspend(() => {
    const parts: Array<Uint8Array> = []
    return Effect.map(
      content.drain((chunk) => void parts.push(Uint8Array.from(chunk))),
      () => new Uint8Array(Buffer.concat(parts))
    )
  })

/** The body of `content` through `stream` or through `drain`. */
export const bodyBytes = (content: Content, how: "stream" | "drain") =>
  how === "stream" ? collectBytes(content.stream) : drainBytes(content)

export const provideClient = <A, E>(
  effect: Effect.Effect<A, E, GraphClient>,
  layer: Layer.Layer<GraphClient, unknown>
): Effect.Effect<A, unknown> => Effect.provide(effect, layer)

/** What the real request path sent and received, observed at the HttpClient (the layer GraphClient uses). */
export interface Exchange {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly sentAt: number
  status?: number
  receivedAt?: number
  retryAfter?: string | undefined
}

/** An undici HttpClient that records every exchange, for GraphClient.layerWithoutHttpClient. */
export const recordingHttpClient = (log: Array<Exchange>) =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, (client) =>
      HttpClient.transform(client, (effect, request) =>
        Effect.suspend(() => {
          const ex: Exchange = { url: request.url, headers: { ...request.headers }, sentAt: Date.now() }
          log.push(ex)
          return Effect.tap(effect, (res) =>
            Effect.sync(() => {
              ex.status = res.status
              ex.receivedAt = Date.now()
              ex.retryAfter = res.headers["retry-after"]
            }))
        })))
  ).pipe(Layer.provide(NodeHttpClient.layerUndici))

export const recordingClientLayer = (
  emu: { readonly baseUrl: string; readonly accessToken: string },
  log: Array<Exchange>,
  options?: Partial<GraphClientOptions>
) =>
  GraphClient.layerWithoutHttpClient({
    baseUrl: emu.baseUrl,
    credential: Redacted.make(emu.accessToken),
    ...options,
    policy: { baseDelayMs: 20, maxBackoffMs: 500, ...options?.policy }
  }).pipe(Layer.provide(recordingHttpClient(log)))
