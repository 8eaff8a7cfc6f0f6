/**
 * The emulator: a Graph-compatible HTTP server for one tenant, a second origin for redirected content,
 * and optionally an HTTPS Entra-compatible token endpoint.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as NodeCrypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodeHttp from "node:http"
import * as NodeHttps from "node:https"
import * as NodePath from "node:path"
import { type Counters, MutableCounters } from "./Counters.js"
import { type FaultConfig, type FaultProfile, resolveFaults } from "./Faults.js"
import {
  FixtureAdhocCall as FixtureAdhocCallSchema,
  FixtureError,
  FixtureMeeting as FixtureMeetingSchema,
  FixtureRecording as FixtureRecordingSchema,
  FixtureTranscript as FixtureTranscriptSchema,
  loadFixtureFile,
  validateFixture
} from "./Fixture.js"
import type { FixtureAdhocCall, FixtureMeeting, FixtureRecording, FixtureTranscript, TenantFixture } from "./Fixture.js"
import { type GenerateSpec, generateTenant } from "./Generator.js"
import {
  type LifecycleEvent,
  lifecycleEvents,
  type NotificationFaultConfig,
  type NotificationFaultProfile,
  type NotificationOptions,
  resolveNotificationFaults
} from "./Notifications.js"
import type { TenantPolicy } from "./Policy.js"
import { errorBody, graphApp, type GraphRuntime, type RequestSeen, secondOriginApp } from "./internal/graph.js"
import { FaultEngine } from "./internal/faults.js"
import { TenantState, TenantStateError } from "./internal/state.js"
import { SubscriptionFailure } from "./internal/subscriptionRequest.js"
import { subscriptionPayload, SubscriptionStore } from "./internal/subscriptions.js"
import { tokenEndpointApp } from "./internal/tokenEndpoint.js"
import { signToken } from "./internal/tokens.js"
import { lazySigningKey } from "./internal/validationTokens.js"
import {
  type Authority,
  createTestCa,
  serverCertificate,
  type TestCa,
  type TokenEndpointOptions
} from "./TokenEndpoint.js"
import * as Schema from "effect/Schema"

export interface EmulatorOptions {
  /** a fixture object, or the path of a fixture JSON file (content files resolve relative to it) */
  readonly fixture?: TenantFixture | string
  /** generate a tenant instead of loading a fixture */
  readonly generate?: GenerateSpec
  /** Graph listener port; default 0 (any free port) */
  readonly port?: number
  readonly faults?: FaultProfile | FaultConfig
  /** seed for fault decisions when the fault config has none; default 1 */
  readonly seed?: number
  /**
   * lifetime of tokens from the token endpoint and `issueToken` (default 3600), and of `accessToken`
   * when given (otherwise `accessToken` lives 24 h)
   */
  readonly tokenTtlSeconds?: number
  /** also start the HTTPS Entra-compatible token endpoint */
  readonly tokenEndpoint?: boolean | TokenEndpointOptions
  /**
   * serve Graph over HTTPS (like the real service; SDKs such as @microsoft/microsoft-graph-client only
   * follow https nextLinks). The certificate is signed by this CA, or by the token endpoint's CA, or a new one.
   */
  readonly tls?: boolean | TestCa
  /** default page size of lists (Graph: 10); `$top` overrides up to 100 */
  readonly pageSize?: number
  /** permanent tenant conditions: missing access policy (403), transcripts disabled (403), metered quota (402) */
  readonly policy?: TenantPolicy
  /**
   * Test hook: called with each authenticated Graph request once its route is known, before the tenant
   * policy and faults apply; the request waits for a returned promise. Lets a test change the policy
   * when the first content request arrives, or hold a run at a known point.
   */
  readonly onRequest?: (request: RequestSeen) => void | Promise<void>
  /** the clock of the rate limiter's token bucket, in ms (default `Date.now`): a test can stop time */
  readonly now?: () => number
  /** change notifications: trusted CA, http URLs, delivery faults, deadlines, retries (see `NotificationOptions`) */
  readonly notifications?: NotificationOptions
}

export interface Emulator {
  /** `http://127.0.0.1:PORT` */
  readonly origin: string
  /** `http://127.0.0.1:PORT/v1.0` */
  readonly baseUrl: string
  /** `http://127.0.0.1:PORT/beta` */
  readonly betaBaseUrl: string
  /** origin of the listener that serves redirected content */
  readonly secondOrigin: string
  /** a valid delegated token whose subject (`/me`) is the first user of the tenant */
  readonly accessToken: string
  readonly tenantId: string
  /** the tenant as loaded or generated (artifacts added later are not reflected here) */
  readonly fixture: TenantFixture
  /** set when the token endpoint runs */
  readonly authority: Authority | undefined
  /** PEM CA file the HTTPS listeners' certificates are signed with (tls or tokenEndpoint), else undefined */
  readonly caFile: string | undefined
  readonly counters: () => Counters
  readonly resetCounters: () => void
  readonly setFaults: (faults: FaultProfile | FaultConfig) => void
  /** replaces the tenant policy (metered minutes used are in the counters; resetCounters zeroes them) */
  readonly setPolicy: (policy: TenantPolicy) => void
  readonly addMeeting: (meeting: FixtureMeeting) => void
  readonly addRecording: (meetingId: string, recording: FixtureRecording) => void
  readonly addTranscript: (meetingId: string, transcript: FixtureTranscript) => void
  /** adds an ad hoc call (with any artifacts it lists); its user becomes a user of the tenant if unknown */
  /**
   * Replaces the `extra` properties served with a recording or transcript, in place (a delta round
   * does not report it again), e.g. to serve a malformed value and then the corrected payload.
   */
  readonly setArtifactExtra: (id: string, extra: Record<string, unknown> | undefined) => void
  readonly addAdhocCall: (call: FixtureAdhocCall) => void
  readonly addAdhocRecording: (callId: string, recording: FixtureRecording) => void
  readonly addAdhocTranscript: (callId: string, transcript: FixtureTranscript) => void
  /** live subscriptions (all apps), as Graph serves them */
  readonly subscriptions: () => ReadonlyArray<ReturnType<typeof subscriptionPayload>>
  /**
   * Sends a lifecycle event for a subscription to its lifecycleNotificationUrl (a `subscriptionRemoved`
   * also removes the subscription); throws EmulatorError for an unknown or expired id
   */
  readonly sendLifecycleEvent: (subscriptionId: string, event: LifecycleEvent) => void
  readonly setNotificationFaults: (faults: NotificationFaultProfile | NotificationFaultConfig) => void
  /** resolves once no notification is being delivered, retried, delayed or held back */
  readonly notificationsIdle: () => Promise<void>
  /** a token for this tenant; `subject` is the user `/me` resolves to (omit for an app-only token); negative ttl = expired */
  readonly issueToken: (options?: { readonly subject?: string; readonly ttlSeconds?: number }) => string
}

export class EmulatorError extends Schema.TaggedError<EmulatorError>()("EmulatorError", {
  message: Schema.String
}) {}

const loadTenant = (options: EmulatorOptions) => {
  if (options.generate !== undefined) {
    return Effect.map(
      Effect.try({
        try: () => generateTenant(options.generate!),
        catch: (e) => new FixtureError({ message: `cannot generate tenant: ${String(e)}` })
      }),
      (fixture) => ({ fixture, baseDir: process.cwd() })
    )
  }
  if (options.fixture === undefined) {
    return Effect.fail(new FixtureError({ message: "either fixture or generate is required" }))
  }
  return typeof options.fixture === "string"
    ? loadFixtureFile(options.fixture)
    : validateFixture(options.fixture, process.cwd())
}

/** Listens with a node server we keep a handle on, so closing can drop open (streaming) connections. */
const listen = (evaluate: () => NodeHttp.Server, port: number) =>
  Effect.gen(function*() {
    let node: NodeHttp.Server | undefined
    const server = yield* NodeHttpServer.make(() => (node = evaluate()), { port, host: "127.0.0.1" })
    yield* Effect.addFinalizer(() => Effect.sync(() => node?.closeAllConnections()))
    const address = server.address
    const actualPort = address._tag === "TcpAddress" ? address.port : 0
    return { server, port: actualPort }
  })

const decodeOr = <A, I>(schema: Schema.Schema<A, I>, what: string) => (input: unknown): I => {
  const result = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "ignore" })(input)
  if (result._tag === "Left") throw new TenantStateError(`invalid ${what}: ${result.left.message}`)
  return input as I
}
const checkMeeting = decodeOr(FixtureMeetingSchema, "meeting")
const checkRecording = decodeOr(FixtureRecordingSchema, "recording")
const checkTranscript = decodeOr(FixtureTranscriptSchema, "transcript")
const checkAdhocCall = decodeOr(FixtureAdhocCallSchema, "ad hoc call")

/** `{ meetingId }` or `{ adhocCallId }`: where an artifact added through an admin route goes. */
const ownerOf = (b: { meetingId?: unknown; adhocCallId?: unknown }) => {
  if (typeof b?.meetingId === "string") return { adhoc: false, id: b.meetingId }
  if (typeof b?.adhocCallId === "string") return { adhoc: true, id: b.adhocCallId }
  throw new TenantStateError("meetingId or adhocCallId (string) is required")
}

/** Starts the emulator in the current scope; everything stops when the scope closes. */
export const make = (options: EmulatorOptions): Effect.Effect<Emulator, FixtureError | EmulatorError, Scope.Scope> =>
  Effect.gen(function*() {
    const loaded = yield* loadTenant(options)
    const state = yield* Effect.try({
      try: () => new TenantState(loaded.fixture, loaded.baseDir),
      catch: (e) => new FixtureError({ message: e instanceof Error ? e.message : String(e) })
    })
    const secret = NodeCrypto.randomBytes(32)
    const counters = new MutableCounters()
    const faults = yield* Effect.try({
      try: () => new FaultEngine(resolveFaults(options.faults), options.seed ?? 1, options.now ?? Date.now),
      catch: (e) => new EmulatorError({ message: String(e) })
    })
    let secondOriginUrl = ""
    let policy: TenantPolicy = options.policy ?? {}
    const signingKey = lazySigningKey()
    const notificationOptions = options.notifications ?? {}
    const subscriptions = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const store = new SubscriptionStore({
            state,
            counters,
            options: notificationOptions,
            signingKey,
            defaultSeed: options.seed ?? 1
          })
          store.setFaults(resolveNotificationFaults(notificationOptions.faults))
          return store
        },
        catch: (e) => new EmulatorError({ message: e instanceof Error ? e.message : String(e) })
      }),
      (store) => Effect.sync(() => store.close())
    )
    const rt: GraphRuntime = {
      state,
      subscriptions,
      secret,
      counters,
      faults,
      pageSize: options.pageSize ?? 10,
      secondOrigin: () => secondOriginUrl,
      scheme: () => (options.tls ? "https" : "http"),
      policy: () => policy,
      onRequest: options.onRequest,
      now: options.now ?? Date.now
    }
    // one CA for every HTTPS listener of this emulator
    const teOptions: TokenEndpointOptions | undefined = options.tokenEndpoint === true
      ? {}
      : options.tokenEndpoint === false
      ? undefined
      : options.tokenEndpoint
    const givenCa = typeof options.tls === "object" ? options.tls : teOptions?.ca
    const ca: TestCa | undefined = givenCa ?? (options.tls || teOptions
      ? yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: () => createTestCa(),
          catch: (e) => new EmulatorError({ message: `cannot create a CA: ${String(e)}` })
        }),
        // a CA we created lives as long as the emulator
        (created) =>
          Effect.sync(() => NodeFs.rmSync(NodePath.dirname(created.caFile), { recursive: true, force: true }))
      )
      : undefined)
    const certificate = (ca: TestCa) =>
      Effect.tryPromise({
        try: () => serverCertificate(ca),
        catch: (e) => new EmulatorError({ message: `cannot create a server certificate: ${String(e)}` })
      })
    const ttl = options.tokenTtlSeconds ?? 3600
    const issueToken = (o?: { readonly subject?: string; readonly ttlSeconds?: number }) => {
      const now = Math.floor(Date.now() / 1000)
      return signToken(secret, {
        aud: "https://graph.microsoft.com",
        iss: `https://sts.windows.net/${state.tenantId}/`,
        tid: state.tenantId,
        iat: now,
        nbf: now,
        exp: now + (o?.ttlSeconds ?? ttl),
        ...(o?.subject !== undefined ? { oid: o.subject, sub: o.subject } : {}),
        appid: "00000000-0000-0000-0000-00000000e4a1"
      })
    }
    const serveError = (e: unknown) => new EmulatorError({ message: `cannot listen: ${String(e)}` })

    const second = yield* listen(() => NodeHttp.createServer(), 0).pipe(Effect.mapError(serveError))
    secondOriginUrl = `http://127.0.0.1:${second.port}`
    yield* HttpServer.serveEffect(secondOriginApp(rt)).pipe(Effect.provideService(HttpServer.HttpServer, second.server))

    const mainCert = options.tls && ca ? yield* certificate(ca) : undefined
    const main = yield* listen(
      () =>
        mainCert
          ? NodeHttps.createServer({ key: mainCert.key, cert: mainCert.cert }) as unknown as NodeHttp.Server
          : NodeHttp.createServer(),
      options.port ?? 0
    ).pipe(Effect.mapError(serveError))
    const graph = graphApp(rt)
    const jsonBody = <A>(check: (u: unknown) => A, apply: (a: A) => void) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const body = yield* Effect.orElseSucceed(request.json, () => undefined)
        try {
          apply(check(body))
          return HttpServerResponse.unsafeJson({ ok: true }, { status: 201 })
        } catch (e) {
          return HttpServerResponse.unsafeJson({
            error: { code: "BadRequest", message: e instanceof Error ? e.message : String(e) }
          }, { status: 400 })
        }
      })
    const router = HttpRouter.empty.pipe(
      HttpRouter.get("/_emulator/counters", Effect.sync(() => HttpServerResponse.unsafeJson(counters.snapshot()))),
      HttpRouter.post(
        "/_emulator/counters/reset",
        Effect.sync(() => {
          counters.reset()
          return HttpServerResponse.empty({ status: 204 })
        })
      ),
      HttpRouter.post("/_emulator/meetings", jsonBody(checkMeeting, (m) => state.addMeeting(m))),
      HttpRouter.post("/_emulator/adhocCalls", jsonBody(checkAdhocCall, (c) => state.addAdhocCall(c))),
      HttpRouter.post(
        "/_emulator/recordings",
        jsonBody((u) => {
          const b = u as { meetingId?: unknown; adhocCallId?: unknown; recording?: unknown }
          return { owner: ownerOf(b), recording: checkRecording(b.recording) }
        }, (b) =>
          b.owner.adhoc
            ? state.addAdhocRecording(b.owner.id, b.recording)
            : state.addRecording(b.owner.id, b.recording))
      ),
      HttpRouter.post(
        "/_emulator/transcripts",
        jsonBody((u) => {
          const b = u as { meetingId?: unknown; adhocCallId?: unknown; transcript?: unknown }
          return { owner: ownerOf(b), transcript: checkTranscript(b.transcript) }
        }, (b) =>
          b.owner.adhoc
            ? state.addAdhocTranscript(b.owner.id, b.transcript)
            : state.addTranscript(b.owner.id, b.transcript))
      ),
      HttpRouter.put(
        "/_emulator/policy",
        jsonBody((u) => {
          if (typeof u !== "object" || u === null || Array.isArray(u)) {
            throw new TenantStateError("policy must be an object")
          }
          return u as TenantPolicy
        }, (p) => void (policy = p))
      ),
      HttpRouter.put(
        "/_emulator/faults",
        jsonBody((u) => resolveFaults(u as FaultProfile | FaultConfig), (f) => faults.set(f))
      ),
      HttpRouter.get(
        "/_emulator/subscriptions",
        Effect.sync(() => HttpServerResponse.unsafeJson({ value: subscriptions.all().map(subscriptionPayload) }))
      ),
      HttpRouter.post(
        "/_emulator/subscriptions/:id/lifecycle",
        Effect.gen(function*() {
          const { id } = yield* HttpRouter.params
          const request = yield* HttpServerRequest.HttpServerRequest
          const body = (yield* Effect.orElseSucceed(request.json, () => ({}))) as { lifecycleEvent?: unknown }
          const event = body?.lifecycleEvent as LifecycleEvent
          if (!lifecycleEvents.includes(event)) {
            return HttpServerResponse.unsafeJson({
              error: { code: "BadRequest", message: `lifecycleEvent must be one of ${lifecycleEvents.join(", ")}` }
            }, { status: 400 })
          }
          try {
            subscriptions.lifecycle(id ?? "", event)
            return HttpServerResponse.empty({ status: 202 })
          } catch (e) {
            if (!(e instanceof SubscriptionFailure)) throw e
            return HttpServerResponse.unsafeJson({ error: { code: "NotFound", message: e.message } }, { status: 404 })
          }
        })
      ),
      HttpRouter.put(
        "/_emulator/notificationFaults",
        jsonBody(
          (u) => {
            try {
              return resolveNotificationFaults(u as NotificationFaultProfile | NotificationFaultConfig)
            } catch (e) {
              throw new TenantStateError(e instanceof Error ? e.message : String(e))
            }
          },
          (f) => subscriptions.setFaults(f)
        )
      ),
      HttpRouter.post(
        "/_emulator/notifications/idle",
        Effect.promise(() => subscriptions.idle()).pipe(Effect.as(HttpServerResponse.empty({ status: 204 })))
      ),
      HttpRouter.post(
        "/_emulator/tokens",
        Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          const body = (yield* Effect.orElseSucceed(request.json, () => ({}))) as {
            subject?: string
            ttlSeconds?: number
          }
          const token = issueToken({
            ...(typeof body?.subject === "string" ? { subject: body.subject } : {}),
            ...(typeof body?.ttlSeconds === "number" ? { ttlSeconds: body.ttlSeconds } : {})
          })
          return HttpServerResponse.unsafeJson({ access_token: token, token_type: "Bearer" })
        })
      ),
      HttpRouter.all("/v1.0/*", graph),
      HttpRouter.all("/beta/*", graph),
      HttpRouter.all("/v1.0", graph),
      HttpRouter.all("/beta", graph)
    )
    const app = router.pipe(
      Effect.catchTag("RouteNotFound", () =>
        Effect.sync(() => {
          const id = NodeCrypto.randomUUID()
          return HttpServerResponse.text(
            errorBody("BadRequest", "Invalid version: only v1.0 and beta are served.", id, id),
            {
              status: 400,
              contentType: "application/json",
              headers: { "request-id": id }
            }
          )
        }))
    )
    yield* HttpServer.serveEffect(app).pipe(Effect.provideService(HttpServer.HttpServer, main.server))
    const origin = `${options.tls ? "https" : "http"}://127.0.0.1:${main.port}`

    let authority: Authority | undefined
    if (teOptions && ca) {
      const cert = yield* certificate(ca)
      const tls = yield* listen(
        () => NodeHttps.createServer({ key: cert.key, cert: cert.cert }) as unknown as NodeHttp.Server,
        0
      ).pipe(Effect.mapError(serveError))
      const authorityHost = `https://127.0.0.1:${tls.port}`
      const clientId = teOptions.clientId ?? "7d3c0c2e-5e0a-4f5e-9b1e-e4a1c11e47a1"
      const clientSecret = teOptions.clientSecret ?? NodeCrypto.randomBytes(24).toString("base64url")
      yield* HttpServer.serveEffect(
        tokenEndpointApp({
          tenantId: state.tenantId,
          clientId,
          clientSecret,
          secret,
          ttlSeconds: () => ttl,
          authority: () => authorityHost,
          counters,
          signingKey
        })
      ).pipe(Effect.provideService(HttpServer.HttpServer, tls.server))
      authority = { authorityHost, caFile: ca.caFile, tenantId: state.tenantId, clientId, clientSecret }
      if (!NodeFs.existsSync(ca.caFile)) return yield* new EmulatorError({ message: `CA file missing: ${ca.caFile}` })
    }

    const firstUser = loaded.fixture.users[0]?.id
    const accessToken = issueToken({
      ...(firstUser !== undefined ? { subject: firstUser } : {}),
      ttlSeconds: options.tokenTtlSeconds ?? 86_400
    })
    const guard = <A extends ReadonlyArray<unknown>>(f: (...a: A) => void) => (...a: A) => {
      try {
        f(...a)
      } catch (e) {
        throw e instanceof TenantStateError ? new EmulatorError({ message: e.message }) : e
      }
    }
    return {
      origin,
      baseUrl: `${origin}/v1.0`,
      betaBaseUrl: `${origin}/beta`,
      secondOrigin: secondOriginUrl,
      accessToken,
      tenantId: state.tenantId,
      fixture: loaded.fixture,
      authority,
      caFile: ca?.caFile,
      counters: () => counters.snapshot(),
      resetCounters: () => counters.reset(),
      setFaults: (f) => faults.set(resolveFaults(f)),
      setPolicy: (p) => void (policy = p),
      addMeeting: guard((m: FixtureMeeting) => void state.addMeeting(checkMeeting(m))),
      addRecording: guard((id: string, r: FixtureRecording) => void state.addRecording(id, checkRecording(r))),
      setArtifactExtra: guard((id: string, extra: Record<string, unknown> | undefined) => state.setExtra(id, extra)),
      addTranscript: guard((id: string, t: FixtureTranscript) => void state.addTranscript(id, checkTranscript(t))),
      addAdhocCall: guard((c: FixtureAdhocCall) => void state.addAdhocCall(checkAdhocCall(c))),
      addAdhocRecording: guard((id: string, r: FixtureRecording) =>
        void state.addAdhocRecording(id, checkRecording(r))
      ),
      addAdhocTranscript: guard((id: string, t: FixtureTranscript) =>
        void state.addAdhocTranscript(id, checkTranscript(t))
      ),
      subscriptions: () => subscriptions.all().map(subscriptionPayload),
      sendLifecycleEvent: (id, event) => {
        try {
          subscriptions.lifecycle(id, event)
        } catch (e) {
          throw e instanceof SubscriptionFailure ? new EmulatorError({ message: e.message }) : e
        }
      },
      setNotificationFaults: (f) => subscriptions.setFaults(resolveNotificationFaults(f)),
      notificationsIdle: () => subscriptions.idle(),
      issueToken
    } satisfies Emulator
  })

/** A running emulator with a way to stop it. */
export interface RunningEmulator extends Emulator {
  readonly close: () => Promise<void>
}

/** Starts the emulator outside Effect: `await emu.close()` stops it. */
export const startEmulator = async (options: EmulatorOptions): Promise<RunningEmulator> => {
  const scope = Effect.runSync(Scope.make())
  const exit = await Effect.runPromiseExit(Scope.extend(make(options), scope))
  if (Exit.isFailure(exit)) {
    await Effect.runPromise(Scope.close(scope, exit))
    throw Cause.squash(exit.cause)
  }
  let closed: Promise<void> | undefined
  return {
    ...exit.value,
    close: () => (closed ??= Effect.runPromise(Scope.close(scope, Exit.void)))
  }
}
