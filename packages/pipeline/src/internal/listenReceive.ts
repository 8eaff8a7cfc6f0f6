/**
 * One POSTed notification body: check each notification (known subscription, clientState in constant
 * time, validation tokens, signature, decryption), store what it announces durably, and say what to
 * answer. Nothing here downloads: the worker exports what was stored.
 */
import {
  type ChangeNotification,
  clientStateMatches,
  decodeChangeNotificationCollection,
  type EncryptedContent,
  isLifecycleNotification,
  type LifecycleEvent
} from "@meeting-artifacts/api"
import type { CheckpointStore } from "@meeting-artifacts/sinks"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { ListenEvent, type RejectReason } from "../ListenEvent.js"
import type { Answer } from "./listenServer.js"
import { RETRY_AFTER_SECONDS } from "./listenServer.js"

/** What a decrypted notification says about the artifact. */
export interface Announced {
  readonly id: string
  readonly meetingId: string | null | undefined
  readonly organizerId: string | null | undefined
}

export interface ReceiveDeps {
  readonly checkpoint: CheckpointStore.CheckpointStoreService
  /** The job's live subscriptions by id (kept in step with the store). */
  readonly subscriptions: () => ReadonlyMap<string, CheckpointStore.ListenSubscription>
  /** Signature check first, then decryption; fails with why. */
  readonly decrypt: (
    content: EncryptedContent,
    kind: "recording" | "transcript"
  ) => Effect.Effect<Announced, RejectReason>
  /**
   * Graph's JWTs over the body; fails `invalid` when any is not valid or one of `tenantIds` is not covered,
   * `unavailable` when they cannot be checked now (the authority's signing keys cannot be fetched).
   */
  readonly validateTokens: (
    tokens: ReadonlyArray<string>,
    tenantIds: ReadonlyArray<string | null | undefined>
  ) => Effect.Effect<unknown, "invalid" | "unavailable">
  readonly queueLimit: number
  readonly event: (e: ListenEvent) => void
  /** Something new is pending. */
  readonly wake: Effect.Effect<void>
  /** A lifecycle event from a known subscription with the right clientState (handled later, not awaited). */
  readonly lifecycle: (subscription: CheckpointStore.ListenSubscription, event: LifecycleEvent) => Effect.Effect<void>
}

/** Which artifact kind a subscription's resource announces. */
export const kindOfResource = (resource: string): "recording" | "transcript" | null =>
  /getAllRecordings|\/recordings\b/i.test(resource)
    ? "recording"
    : /getAllTranscripts|\/transcripts\b/i.test(resource)
    ? "transcript"
    : null

const LIFECYCLE_EVENTS: ReadonlySet<string> = new Set(["reauthorizationRequired", "subscriptionRemoved", "missed"])

/** `full`: the queue is; `unchecked`: its tokens could not be checked now. Both ask Graph to send it again. */
type Outcome = "accepted" | "rejected" | "full" | "unchecked"

type TokensVerdict = "valid" | "invalid" | "unavailable"

export const make = (deps: ReceiveDeps) => {
  const reject = (reason: RejectReason, subscriptionId: string | null): Effect.Effect<Outcome> =>
    Effect.sync(() => {
      deps.event(ListenEvent.NotificationRejected({ reason, subscriptionId }))
      return "rejected" as const
    })

  /** The subscription a notification names, when its clientState (compared in constant time) is ours. */
  const authenticate = (n: ChangeNotification) => {
    const subscriptionId = n.subscriptionId
    const subscription = deps.subscriptions().get(subscriptionId)
    if (subscription === undefined) return { subscriptionId, error: "unknownSubscription" as const }
    if (!clientStateMatches(n, Redacted.make(subscription.clientState))) {
      return { subscriptionId, error: "clientState" as const }
    }
    return { subscriptionId, subscription }
  }

  const changeNotification = (
    item: ChangeNotification,
    tokensVerdict: Effect.Effect<TokensVerdict>
  ): Effect.Effect<Outcome> =>
    Effect.gen(function*() {
      const auth = authenticate(item)
      if (auth.subscription === undefined) return yield* reject(auth.error, auth.subscriptionId)
      const subscription = auth.subscription
      const verdict = yield* tokensVerdict
      if (verdict === "unavailable") return "unchecked" as const
      if (verdict === "invalid") return yield* reject("validationTokens", subscription.id)
      const kind = kindOfResource(subscription.resource)
      const content = item.encryptedContent
      if (kind === null || content == null) return yield* reject("missingContent", subscription.id)
      const announced = yield* Effect.either(deps.decrypt(content, kind))
      if (announced._tag === "Left") return yield* reject(announced.left, subscription.id)
      const a = announced.right
      // The clear-text resourceData names the same artifact as the signed, encrypted payload.
      const claimedId = item.resourceData?.id ?? null
      if (
        (claimedId !== null && claimedId !== a.id) || a.meetingId == null || a.meetingId === "" ||
        a.organizerId == null || a.organizerId === ""
      ) return yield* reject("payload", subscription.id)
      const outcome = yield* deps.checkpoint.enqueuePending({
        kind,
        id: a.id,
        meetingId: a.meetingId,
        organizerId: a.organizerId,
        subscriptionId: subscription.id,
        resource: item.resource ?? subscription.resource
      }, deps.queueLimit).pipe(Effect.orElseSucceed(() => "error" as const))
      if (outcome === "error") return "full" as const
      if (outcome === "full") return "full" as const
      deps.event(ListenEvent.NotificationAccepted({ kind, id: a.id, outcome }))
      if (outcome === "queued") yield* deps.wake
      return "accepted" as const
    })

  const lifecycleNotification = (item: ChangeNotification, event: LifecycleEvent): Effect.Effect<Outcome> =>
    Effect.gen(function*() {
      const auth = authenticate(item)
      if (auth.subscription === undefined) return yield* reject(auth.error, auth.subscriptionId)
      deps.event(ListenEvent.LifecycleReceived({ subscriptionId: auth.subscription.id, lifecycleEvent: event }))
      yield* deps.lifecycle(auth.subscription, event)
      return "accepted" as const
    })

  /** Handles one body; the answer is 202 once what it announces is stored. */
  const receive = (body: Buffer): Effect.Effect<Answer> =>
    Effect.gen(function*() {
      let json: unknown
      try {
        json = JSON.parse(body.toString("utf8"))
      } catch {
        json = undefined
      }
      const decoded = yield* Effect.either(decodeChangeNotificationCollection(json))
      if (decoded._tag === "Left") {
        yield* reject("malformed", null)
        return { status: 400 }
      }
      const items = decoded.right.value
      // Graph signs each body that carries resource data with validation tokens: one missing or not
      // valid discards every change notification of the body. Checked once, and only for a body with a
      // notification of ours (cheap checks first: junk costs no key fetch).
      let checked: TokensVerdict | undefined
      const tokensVerdict = Effect.suspend(() => {
        if (checked !== undefined) return Effect.succeed(checked)
        const tokens = decoded.right.validationTokens ?? []
        const tenants = items.filter((i) => !isLifecycleNotification(i)).map((i) => i.tenantId)
        return (tokens.length === 0
          ? Effect.succeed<TokensVerdict>("invalid")
          : deps.validateTokens(tokens, tenants).pipe(
            Effect.as<TokensVerdict>("valid"),
            Effect.catchAll((why) => Effect.succeed<TokensVerdict>(why))
          ))
          .pipe(Effect.tap((verdict) => Effect.sync(() => (checked = verdict))))
      })
      const outcomes: Array<Outcome> = []
      for (const item of items) {
        if (isLifecycleNotification(item)) {
          outcomes.push(
            LIFECYCLE_EVENTS.has(item.lifecycleEvent)
              ? yield* lifecycleNotification(item, item.lifecycleEvent as LifecycleEvent)
              : "accepted" // an event this version does not know: acknowledged, nothing to do
          )
        } else {
          outcomes.push(yield* changeNotification(item, tokensVerdict))
        }
      }
      if (outcomes.includes("full")) {
        deps.event(ListenEvent.QueueFull({ pending: deps.queueLimit }))
        // What was stored stays stored; Graph sends the whole body again later and those are no-ops then.
        return { status: 503, retryAfterSeconds: RETRY_AFTER_SECONDS }
      }
      if (outcomes.includes("unchecked")) {
        // Refusing would lose the notification for good (Graph does not announce an artifact twice).
        deps.event(ListenEvent.Warning({
          message: "could not fetch the authority's signing keys to check validation tokens; asked Graph to retry"
        }))
        return { status: 503, retryAfterSeconds: RETRY_AFTER_SECONDS }
      }
      // Nothing accepted: say so (a forger learns nothing it did not know; Graph retries a body that a
      // rotation race refused).
      return { status: outcomes.length > 0 && outcomes.every((o) => o === "rejected") ? 403 : 202 }
    })

  return { receive }
}
