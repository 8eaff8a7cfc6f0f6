/**
 * `GraphClient`: every meeting-artifact call of Microsoft Graph as an Effect
 * or a Stream with typed errors, behind one per-tenant rate limiter.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type { TokenCredential } from "@azure/identity"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { CallRecording } from "./CallRecording.js"
import type { CallTranscript } from "./CallTranscript.js"
import type { GraphBudget } from "./GraphBudget.js"
import type { BadRequest, GraphError } from "./GraphError.js"
import type { GraphPolicy } from "./GraphPolicy.js"
import type { AdhocWindow, CallRef, OrganizerWindow, UserRef } from "./GraphUrl.js"
import type { OnlineMeeting } from "./OnlineMeeting.js"
import type { Subscription, SubscriptionCreate } from "./Subscription.js"
import { staticTokenProblem } from "./internal/auth.js"
import * as internal from "./internal/client.js"
import * as NodeSend from "./internal/nodeSend.js"
import { invalidArgument } from "./internal/errors.js"

/** A static bearer token, or any `@azure/identity` credential (client secret, certificate, managed identity, ...). */
export type GraphCredential = TokenCredential | Redacted.Redacted<string>

export interface GraphClientOptions {
  /** `https://graph.microsoft.com/v1.0` (default), `.../beta`, a national cloud, or an emulator. */
  readonly baseUrl?: string | undefined
  readonly credential: GraphCredential
  /** Token scope for a TokenCredential; defaults to `https://<graph host>/.default`. */
  readonly scope?: string | undefined
  readonly policy?: Partial<GraphPolicy> | undefined
  /**
   * Allow an `http://` `baseUrl` to a host other than loopback (default false: the client refuses to
   * send the token unencrypted over a network; loopback http, e.g. the emulator, is always allowed).
   */
  readonly allowInsecureHttp?: boolean | undefined
  /** The tenant's budget shared with other processes (a cluster's runners); see `GraphBudget`. */
  readonly budget?: GraphBudget | undefined
}

/** Items of a delta stream: the artifacts, then (once, last) the link to resume from next time. */
export type DeltaEvent<A> =
  | { readonly _tag: "Item"; readonly item: A }
  | { readonly _tag: "DeltaLink"; readonly deltaLink: string }

/** Where a delta stream starts: a fresh window, or a deltaLink stored from an earlier run (replayed exactly). */
export type DeltaStart<W> = W | { readonly deltaLink: string }

/**
 * A content body: streamed, constant memory, each byte exactly once even across resumes.
 * `stream` delivers bytes `[offset, offset + contentLength)` of the artifact.
 */
export interface Content {
  readonly contentType: string | null
  /**
   * How many bytes `stream` delivers (from Content-Length, or from Content-Range's total minus `offset`
   * after a 206); null when the server streamed without a length. The artifact's size is
   * `offset + contentLength`.
   */
  readonly contentLength: number | null
  /**
   * The byte of the artifact at which `stream` starts. 0 without `ContentOptions.offset`; with one, the
   * requested offset when the server honoured the Range (206), and 0 when it ignored it (200) or the
   * range could not be satisfied (416, answered by a fresh request without Range): the caller must
   * then discard what it held and take the stream from byte 0. A 416 that shows the content ends
   * exactly at `offset` (a strong `ifRange` was sent, or its Content-Range names that length) means the
   * caller holds it all: `offset` is the requested one, `contentLength` 0, the stream empty.
   */
  readonly offset: number
  /**
   * The first response's `ETag` and `Last-Modified` (null when absent): store one with a partial
   * download and pass it as `ContentOptions.ifRange` when resuming, so changed content comes back whole.
   */
  readonly etag: string | null
  readonly lastModified: string | null
  /**
   * Bytes `[offset, offset + contentLength)`. A 206 that stops before the end of the content (its
   * Content-Range total `*`, or larger than its end) is followed by requests for the next range until an
   * answer shows the content ended (a 206 reaching its total, a 200 with the first answer's validators,
   * a 416 whose Content-Range names that length, or none when If-Range was sent). Each later request
   * carries the first answer's strong ETag (else Last-Modified) as If-Range; an answer with another ETag
   * or Last-Modified, a 200 lacking one the first had, or a 416 naming another length is a
   * `TransportError`: a body is never ended short silently nor spliced from two versions.
   */
  readonly stream: Stream.Stream<Uint8Array, GraphError>
  /**
   * The same bytes as `stream`, handed to `push` one chunk at a time, for consumers that copy or hash
   * each chunk at once (e.g. into a file writer): from Node's HTTP client the chunks are passed as the
   * socket's reads arrive, one Effect per response rather than per chunk, so a large download makes
   * far less garbage (no mark-compact storm). A returned Promise holds the next chunk back until it
   * settles (backpressure; that wait never counts as an idle body). Cuts are resumed, ranges followed
   * and sizes and validators checked exactly as for `stream`. A chunk is the consumer's until `push`
   * returns (or its Promise settles): keep a copy past that, not the chunk (a recording's chunks from
   * `GraphClient.layer`'s client are views of memory its connection reads the next bytes into, see
   * internal/rawSend.ts). A throw or rejection of `push` stops
   * the body and is a defect: keep your own error and fail after. Run either `stream` or `drain`, once.
   */
  readonly drain: (
    push: (chunk: Uint8Array) => void | Promise<void>,
    options?: DrainOptions
  ) => Effect.Effect<void, GraphError>
  /**
   * The whole body, when it was small enough to be read before the call returned (a 200 with a small
   * Content-Length that arrived complete): the same bytes `stream` delivers, for callers that can take
   * them in one piece. Undefined otherwise.
   */
  readonly bytes?: Uint8Array | undefined
}

/** Options of a content download. */
/** How `Content.drain` may receive a body. */
export interface DrainOptions {
  /**
   * Memory the consumer would like the next bytes received into (say, the free part of its own buffer),
   * asked before each socket read of a recording on `GraphClient.layer`'s client; undefined: none now.
   * The chunks then handed to `push` are views of it when they could be read in place (check with
   * `chunk.buffer` and `chunk.byteOffset`: take them without a copy), and any view of anything else
   * otherwise (framing, a skipped prefix): `push` gets every byte in order either way. The memory must
   * stay untouched by the consumer until `push` hands it over or the drain ends.
   */
  readonly into?: (() => Uint8Array | undefined) | undefined
}

export interface ContentOptions {
  /**
   * Resume at this byte (a non-negative integer; default 0): the caller already holds bytes
   * `[0, offset)` (e.g. from a killed run), so the first request carries `Range: bytes=<offset>-`.
   * Graph documents no Range support, so check `Content.offset` for where the stream really starts.
   * A 206 whose Content-Range starts after `offset` fails with a `TransportError` (never wrong bytes).
   */
  readonly offset?: number | undefined
  /**
   * A validator of the bytes held (a strong `ETag` or a `Last-Modified` from `Content`), sent as
   * `If-Range` with the Range request: a server whose content changed answers 200 with the whole body
   * (`Content.offset` 0). Ignored without `offset`.
   */
  readonly ifRange?: string | undefined
}

/** Counters of one client since it was made (for run summaries). */
export interface GraphStats {
  /** HTTP requests sent (attempts and redirect hops included). */
  readonly requests: number
  /** Attempts that were retries. */
  readonly retries: number
  /** Answers with status 429. */
  readonly throttled: number
  /**
   * Time (ms) during which at least one request waited because the server asked it to (a 429, or an
   * answer with Retry-After). Wall-clock time, so never more than the time the client ran.
   */
  readonly throttleWaitMs: number
  /** Time (ms) during which at least one request waited to retry after another failure (5xx, refused or cut connection). */
  readonly retryWaitMs: number
  /** Content bytes delivered to consumers. */
  readonly bytes: number
  /** Tokens fetched again after a 401. */
  readonly tokenRefreshes: number
  /**
   * Content bodies resumed (206) or restarted (200) after being cut off, plus downloads continued from
   * `ContentOptions.offset` (the first answer a 206).
   */
  readonly resumes: number
}

export interface ListOptions {
  /** `$filter=contentCorrelationId eq '...'`. */
  readonly contentCorrelationId?: string | undefined
  /** `$top` (page size). */
  readonly top?: number | undefined
}

export interface GraphClientService {
  readonly baseUrl: string
  readonly policy: GraphPolicy

  // -- per call (online meeting id, or { adhocCallId }) ------------------------------------
  readonly listRecordings: (
    user: UserRef,
    call: CallRef,
    options?: ListOptions
  ) => Stream.Stream<CallRecording, GraphError>
  readonly getRecording: (user: UserRef, call: CallRef, recordingId: string) => Effect.Effect<CallRecording, GraphError>
  /**
   * Opens the recording's `/content`. The Effect resolves once headers are in;
   * the body streams in constant memory, resumed (Range/206) or restarted
   * (bytes already delivered skipped) when cut short. Holds a download slot
   * until the stream ends or the scope closes. With `options.offset`, resumes
   * a download another process started (see `ContentOptions`, `Content.offset`).
   */
  readonly recordingContent: (
    user: UserRef,
    call: CallRef,
    recordingId: string,
    options?: ContentOptions
  ) => Effect.Effect<Content, GraphError, Scope.Scope>
  readonly listTranscripts: (
    user: UserRef,
    call: CallRef,
    options?: ListOptions
  ) => Stream.Stream<CallTranscript, GraphError>
  readonly getTranscript: (
    user: UserRef,
    call: CallRef,
    transcriptId: string
  ) => Effect.Effect<CallTranscript, GraphError>
  /** The transcript as WebVTT text (`$format=text/vtt` and `Accept: text/vtt`). */
  readonly transcriptContent: (user: UserRef, call: CallRef, transcriptId: string) => Effect.Effect<string, GraphError>
  /** The same as `transcriptContent`, streamed (and resumable like `recordingContent`). */
  readonly transcriptContentStream: (
    user: UserRef,
    call: CallRef,
    transcriptId: string,
    options?: ContentOptions
  ) => Effect.Effect<Content, GraphError, Scope.Scope>
  /** `metadataContent`: WebVTT whose cue payloads are JSON objects. */
  readonly transcriptMetadataContent: (
    user: UserRef,
    call: CallRef,
    transcriptId: string
  ) => Effect.Effect<string, GraphError>

  // -- organizer-wide ----------------------------------------------------------------------
  readonly getAllRecordings: (window: OrganizerWindow) => Stream.Stream<CallRecording, GraphError>
  readonly getAllTranscripts: (window: OrganizerWindow) => Stream.Stream<CallTranscript, GraphError>
  readonly getAllRecordingsDelta: (
    start: DeltaStart<OrganizerWindow>
  ) => Stream.Stream<DeltaEvent<CallRecording>, GraphError>
  readonly getAllTranscriptsDelta: (
    start: DeltaStart<OrganizerWindow>
  ) => Stream.Stream<DeltaEvent<CallTranscript>, GraphError>
  readonly getAllAdhocRecordings: (window: AdhocWindow) => Stream.Stream<CallRecording, GraphError>
  readonly getAllAdhocTranscripts: (window: AdhocWindow) => Stream.Stream<CallTranscript, GraphError>
  readonly getAllAdhocRecordingsDelta: (
    start: DeltaStart<AdhocWindow>
  ) => Stream.Stream<DeltaEvent<CallRecording>, GraphError>
  readonly getAllAdhocTranscriptsDelta: (
    start: DeltaStart<AdhocWindow>
  ) => Stream.Stream<DeltaEvent<CallTranscript>, GraphError>

  // -- meetings ----------------------------------------------------------------------------
  readonly getMeeting: (user: UserRef, meetingId: string) => Effect.Effect<OnlineMeeting, GraphError>
  /** All meetings whose join URL matches (Graph answers a collection; usually one). */
  readonly findMeetingsByJoinUrl: (
    user: UserRef,
    joinWebUrl: string
  ) => Effect.Effect<ReadonlyArray<OnlineMeeting>, GraphError>
  /** The first meeting with this join URL; `NotFound` when none. */
  readonly getMeetingByJoinUrl: (user: UserRef, joinWebUrl: string) => Effect.Effect<OnlineMeeting, GraphError>

  // -- change-notification subscriptions (Graph: subscription resource) --------------------
  /**
   * `POST /subscriptions`. Graph first sends a validation request to the notification URL(s) and
   * answers only after they echo it. Never retried once Graph may have acted on it (only after 429/503
   * or an unreachable server): after a `TransportError`, `listSubscriptions` tells whether it exists.
   */
  readonly createSubscription: (create: SubscriptionCreate) => Effect.Effect<Subscription, GraphError>
  readonly getSubscription: (subscriptionId: string) => Effect.Effect<Subscription, GraphError>
  /** The app's subscriptions (every page). */
  readonly listSubscriptions: () => Stream.Stream<Subscription, GraphError>
  /**
   * `PATCH /subscriptions/{id}` with a new `expirationDateTime` (this also reauthorizes it); with
   * `options`, a new encryption certificate (key rotation).
   */
  readonly renewSubscription: (
    subscriptionId: string,
    expirationDateTime: string | Date,
    options?: {
      readonly encryptionCertificate?: string | undefined
      readonly encryptionCertificateId?: string | undefined
    }
  ) => Effect.Effect<Subscription, GraphError>
  /** `POST /subscriptions/{id}/reauthorize`: answers a `reauthorizationRequired` lifecycle event without renewing. */
  readonly reauthorizeSubscription: (subscriptionId: string) => Effect.Effect<void, GraphError>
  readonly deleteSubscription: (subscriptionId: string) => Effect.Effect<void, GraphError>

  /** Counters since the client was made. */
  readonly stats: Effect.Effect<GraphStats>
}

/**
 * The default transport: node:http(s) with keep-alive. Measured against undici (bench/api-download.ts):
 * the same throughput, ~10 MB lower peak RSS for a 1 GiB download, and undici is not loaded at all
 * (its llhttp WebAssembly costs ~6 MB of idle RSS).
 */
/** A static token that cannot be sent is a configuration error of the client, before any request. */
const checkCredential = (options: GraphClientOptions): Effect.Effect<void, BadRequest> => {
  if (!Redacted.isRedacted(options.credential)) return Effect.void
  const problem = staticTokenProblem(Redacted.value(options.credential as Redacted.Redacted<string>))
  return problem === null ? Effect.void : Effect.fail(invalidArgument(problem, "NEW", "GraphClient"))
}

const nodeHttpClient = Layer.effect(
  HttpClient.HttpClient,
  // this client's requests are sent on its agents directly (internal/nodeSend.ts)
  Effect.zipWith(HttpClient.HttpClient, NodeHttpClient.HttpAgent, NodeSend.register)
).pipe(
  Layer.provide(
    Layer.provideMerge(NodeHttpClient.layerWithoutAgent, NodeHttpClient.makeAgentLayer({ keepAlive: true }))
  )
)

export class GraphClient extends Context.Tag("@meeting-artifacts/api/GraphClient")<GraphClient, GraphClientService>() {
  /** Builds a client on the `HttpClient` in context. */
  static readonly make: (
    options: GraphClientOptions
  ) => Effect.Effect<GraphClientService, BadRequest, HttpClient.HttpClient> = (options) =>
    Effect.zipRight(checkCredential(options), internal.make(options))

  /** A client on the HttpClient in context (any transport: `NodeHttpClient.layer`, `layerUndici`, a test double). */
  static readonly layerWithoutHttpClient = (
    options: GraphClientOptions
  ): Layer.Layer<GraphClient, BadRequest, HttpClient.HttpClient> => Layer.effect(GraphClient, GraphClient.make(options))

  /**
   * A client that sends on its own keep-alive agents of Node's `http`/`https` modules directly (no
   * platform HttpClient per request: see internal/nodeSend.ts).
   * For another transport (e.g. undici: `NodeHttpClient.layerUndici`), use `layerWithoutHttpClient`.
   */
  static readonly layer = (options: GraphClientOptions): Layer.Layer<GraphClient, BadRequest> =>
    Layer.provide(GraphClient.layerWithoutHttpClient(options), nodeHttpClient)

  /**
   * From configuration (the environment by default): `GRAPH_BASE_URL` (default Graph v1.0) and the
   * credential `GraphCredentials.config` resolves (`GRAPH_ACCESS_TOKEN`, else `AZURE_*` through
   * `@azure/identity`; `GRAPH_SCOPE`), the same rule the CLI uses. `accessToken`, when given and set,
   * replaces that resolution with a static token.
   */
  static readonly layerConfig = (options?: {
    readonly baseUrl?: Config.Config<string> | undefined
    readonly accessToken?: Config.Config<Option.Option<Redacted.Redacted<string>>> | undefined
    readonly policy?: Partial<GraphPolicy> | undefined
  }): Layer.Layer<GraphClient, ConfigError.ConfigError | BadRequest> =>
    Layer.provide(Layer.effect(GraphClient, internal.makeFromConfig(options)), nodeHttpClient)
}
