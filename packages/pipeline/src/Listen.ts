/**
 * The listen job: near-real-time export from Graph change notifications.
 *
 * An HTTP(S) endpoint (behind a reverse proxy or tunnel that gives it a public HTTPS URL) answers Graph's
 * validation handshake and receives notifications for new recordings and transcripts. Each notification
 * is checked (known subscription, clientState, validation tokens, signature, then decryption) and what it
 * announces is stored in the checkpoint store before the 202 goes back, so a crash after the answer loses
 * nothing; a full queue answers 503 + Retry-After. A worker exports each stored artifact with its partner
 * through the same per-set processing as `sync` (same files, manifest and checkpoint guarantees; content
 * completed before is never fetched again).
 *
 * Subscriptions are made on start (or kept), renewed before expiry, reauthorized or made again as Graph's
 * lifecycle events ask. Whatever notifications could not tell (the time between two runs, a `missed`
 * event, a subscription made anew) is caught up through the sync's delta discovery from stored links.
 */
import {
  CallRecording,
  CallTranscript,
  certificateKeys,
  decryptContent,
  type EncryptedContent,
  GraphClient,
  type GraphError,
  makeValidationTokenValidator,
  type NotificationKey
} from "@meeting-artifacts/api"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { CheckpointStore, type SinkError } from "@meeting-artifacts/sinks"
import { randomUUID } from "node:crypto"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import { exportCheckpoint, makeRunContext, sinkFatal } from "./internal/context.js"
import * as CatchUp from "./internal/listenCatchUp.js"
import * as Certificates from "./internal/listenCertificate.js"
import * as Lifecycle from "./internal/listenLifecycle.js"
import * as Receive from "./internal/listenReceive.js"
import * as Stats from "./internal/listenStats.js"
import * as Server from "./internal/listenServer.js"
import * as Subscriptions from "./internal/listenSubscriptions.js"
import * as Worker from "./internal/listenWorker.js"
import { toFatal } from "./internal/errors.js"
import { ListenEvent, type RejectReason } from "./ListenEvent.js"
import { InvalidListenOptions, type ListenOptions, validateListenOptions } from "./ListenOptions.js"
import type { SyncServices } from "./Sync.js"
import { SyncFatalError } from "./SyncError.js"
import type { ValidatedSyncOptions } from "./SyncOptions.js"

/** Requests in work at once; more are answered 503 + Retry-After (memory stays bounded). */
const MAX_IN_FLIGHT = 64
/** How often the worker looks for due work when nothing woke it (retries of artifacts Graph did not show yet). */
const WORKER_IDLE = Duration.seconds(1)

const setting = { catchUpFrom: "listen.catchUpFrom" } as const

/**
 * Serves until interrupted (SIGTERM/SIGINT in the CLI). Fails only for invalid options or a fatal error
 * (auth, a tenant-wide 403/402, unusable storage, a port that cannot be bound).
 */
export const listen = (
  options: ListenOptions,
  onEvent: (event: ListenEvent) => void = () => {}
): Effect.Effect<never, InvalidListenOptions | SyncFatalError, SyncServices> =>
  Effect.flatMap(validateListenOptions(options), (opts) =>
    Effect.gen(function*() {
      const graph = yield* GraphClient
      const checkpoint = yield* exportCheckpoint(opts.out)
      const concurrency = opts.concurrency ?? graph.policy.maxConcurrentDownloads
      // -- counters and events ---------------------------------------------------------------
      const { event, runCounts, snapshot } = Stats.make(onEvent)

      // -- certificates ------------------------------------------------------------------------
      let ring = yield* Certificates.load(opts.certificateDir, opts.certificate).pipe(
        Effect.mapError((e) => fatal(e.message, "give a readable certificate and key, or a writable state directory"))
      )
      const keys = (): ReadonlyArray<NotificationKey> => certificateKeys(ring)

      // -- the catch-up window (stored on the first start so delta links keep their key) ------
      const catchUpFrom = opts.catchUpFrom ?? (yield* storedCatchUpFrom(checkpoint))

      // -- the session's run record and the worker's context -------------------------------
      const services = yield* Effect.context<SyncServices>()
      const record = yield* checkpoint.startRun({
        runId: randomUUID(),
        windowFrom: "listen",
        windowTo: "",
        organizers: opts.organizers
      }).pipe(Effect.mapError(sinkFatal))
      // Stopped by a signal: the session did its work. A fatal error: the run record says so.
      yield* Effect.addFinalizer((exit) =>
        checkpoint.finishRun(record.runId, {
          status: Exit.isFailure(exit) && !Exit.isInterrupted(exit) ? "failed" : "succeeded",
          counts: runCounts()
        }).pipe(Effect.ignore)
      )
      const runOpts: ValidatedSyncOptions = {
        organizers: opts.organizers,
        from: null,
        to: null,
        meetingIds: [],
        joinUrls: [],
        adhocCallIds: [],
        adhocCalls: false,
        out: opts.out,
        incremental: true,
        concurrency,
        dryRun: false,
        metadataContent: opts.metadataContent
      }
      const ctx = yield* makeRunContext({
        opts: runOpts,
        runId: record.runId,
        windowFrom: "listen",
        windowTo: "",
        downloadSlots: yield* Effect.makeSemaphore(concurrency)
      })
      const worker = Worker.make(ctx, event)
      /** One export at a time: the worker's rounds and catch-ups never fetch the same artifact side by side. */
      const exportLock = yield* Effect.makeSemaphore(1)

      // -- catch-up through the sync's delta discovery -------------------------------------
      const catchUp = CatchUp.make({
        opts,
        checkpoint,
        manifest: ctx.manifest,
        catchUpFrom,
        concurrency,
        exportLock,
        services,
        event
      })

      // -- subscriptions and lifecycle events ----------------------------------------------
      const subscriptions = Subscriptions.make({ graph, checkpoint, opts, certificates: () => ring, event })
      const lifecycle = yield* Lifecycle.make({
        current: (id) => subscriptions.live().get(id),
        reauthorize: subscriptions.reauthorize,
        recreate: subscriptions.recreate,
        catchUp,
        event
      })

      // -- the endpoint ------------------------------------------------------------------------
      const tokens = yield* makeValidationTokenValidator({
        appIds: [opts.appId],
        tenantIds: opts.tenantIds,
        ...(opts.authorityHost === null ? {} : { authorityHost: opts.authorityHost })
      }).pipe(
        Effect.provide(FetchHttpClient.layer),
        Effect.mapError((e) => fatal(e.message, "set AZURE_AUTHORITY_HOST to the Entra authority (https)"))
      )
      const wake = yield* Queue.sliding<void>(1)
      const { receive } = Receive.make({
        checkpoint,
        subscriptions: subscriptions.live,
        decrypt: (content, kind) => decryptAnnounced(content, kind, keys()),
        validateTokens: (list, tenantIds) =>
          tokens.validate(list, tenantIds).pipe(
            Effect.mapError((e) => e.reason === "signingKeys" ? "unavailable" as const : "invalid" as const)
          ),
        queueLimit: opts.queueLimit,
        event,
        wake: Queue.offer(wake, undefined),
        lifecycle: lifecycle.offer
      })
      yield* subscriptions.restore.pipe(Effect.mapError(sinkFatal))
      const runtime = yield* Effect.runtime<never>()
      const url = yield* Server.serve({
        host: opts.host,
        port: opts.port,
        tls: opts.tls,
        maxInFlight: MAX_IN_FLIGHT,
        maxBodyBytes: Server.MAX_BODY_BYTES,
        handle: (body) => Runtime.runPromise(runtime)(receive(body))
      }).pipe(Effect.mapError((e) => fatal(`cannot serve on ${opts.host}:${opts.port}: ${e.message}`, null)))

      const remade = yield* subscriptions.ensure.pipe(Effect.mapError(graphOrSinkFatal))
      event(ListenEvent.Serving({ url }))

      // -- the loops -----------------------------------------------------------------------------
      const workerLoop = Effect.gen(function*() {
        yield* Queue.take(wake).pipe(Effect.timeout(WORKER_IDLE), Effect.ignore)
        let took = yield* exportLock.withPermits(1)(worker.exportPending)
        while (took > 0) took = yield* exportLock.withPermits(1)(worker.exportPending)
      }).pipe(Effect.forever)
      const renewEvery = Duration.millis(
        Math.max(1000, Math.min(60_000, Subscriptions.renewMarginMs(opts) / 4))
      )
      const renewLoop = Effect.gen(function*() {
        yield* Effect.sleep(renewEvery)
        const next = yield* Certificates.load(opts.certificateDir, opts.certificate).pipe(
          Effect.either
        )
        if (Either.isRight(next)) ring = next.right
        else event(ListenEvent.Warning({ message: next.left.message }))
        const lost = yield* subscriptions.renewDue.pipe(
          Effect.catchAll((e) =>
            Effect.as(Effect.sync(() => event(ListenEvent.Warning({ message: `renewal: ${e.message}` }))), false)
          )
        )
        if (lost) yield* catchUp("subscriptionLost")
      }).pipe(Effect.forever)

      yield* Effect.addFinalizer(() => Effect.sync(() => event(ListenEvent.Stopped({ stats: snapshot() }))))
      // On start: whatever happened while no subscription or no listener was there.
      return yield* Effect.all([
        Effect.zipRight(catchUp(remade ? "start (new subscriptions)" : "start"), Effect.never),
        workerLoop,
        renewLoop,
        lifecycle.loop
      ], { concurrency: "unbounded" }).pipe(Effect.zipRight(Effect.never))
    }).pipe(Effect.scoped))

const fatal = (message: string, fix: string | null) =>
  new SyncFatalError({ message, status: null, code: null, requestId: null, fix })

const graphOrSinkFatal = (e: GraphError | SinkError): SyncFatalError =>
  e._tag === "SinkError" ? sinkFatal(e) : toFatal(e)

const storedCatchUpFrom = (checkpoint: CheckpointStore.CheckpointStoreService) =>
  Effect.gen(function*() {
    const stored = yield* checkpoint.getSetting(setting.catchUpFrom)
    if (Option.isSome(stored)) return stored.value
    // A day back covers artifacts that were being made while the first listener started.
    const from = new Date(Date.now() - 86_400_000).toISOString().replace(/\.\d+Z$/, "Z")
    yield* checkpoint.setSetting(setting.catchUpFrom, from)
    return from
  }).pipe(Effect.mapError(sinkFatal))

const DECRYPT_REASONS: ReadonlySet<string> = new Set(["unknownCertificate", "key", "signature", "decrypt", "payload"])

const decodeRecording = Schema.decodeUnknownEither(Schema.parseJson(CallRecording))
const decodeTranscript = Schema.decodeUnknownEither(Schema.parseJson(CallTranscript))

/** Signature, then decryption (the api's), then what the payload says about the artifact. */
const decryptAnnounced = (
  content: EncryptedContent,
  kind: "recording" | "transcript",
  keys: ReadonlyArray<NotificationKey>
): Effect.Effect<Receive.Announced, RejectReason> =>
  decryptContent(content, keys).pipe(
    Effect.mapError((e): RejectReason => DECRYPT_REASONS.has(e.reason) ? e.reason as RejectReason : "payload"),
    Effect.flatMap((text) => {
      const decoded: Either.Either<CallRecording | CallTranscript, unknown> = kind === "recording"
        ? decodeRecording(text)
        : decodeTranscript(text)
      if (Either.isLeft(decoded)) return Effect.fail("payload" as const)
      const a = decoded.right
      return Effect.succeed({
        id: a.id,
        meetingId: a.meetingId,
        organizerId: a.meetingOrganizer?.user?.id ?? a.meetingOrganizerId
      })
    })
  )
