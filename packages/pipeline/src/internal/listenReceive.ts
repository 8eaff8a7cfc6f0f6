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
  /** Graph's JWTs over the body; fails when any is not valid or one of `tenantIds` is not covered. */
  readonly validateTokens: (
    tokens: ReadonlyArray<string>,
    tenantIds: ReadonlyArray<string | null | undefined>
  ) => Effect.Effect<unknown, unknown>
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

type Outcome = "accepted" | "rejected" | "full"

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

  const changeNotification = (item: ChangeNotification, tokensOk: Effect.Effect<boolean>): Effect.Effect<Outcome> =>
    Effect.gen(function*() {
      const auth = authenticate(item)
      if (auth.subscription === undefined) return yield* reject(auth.error, auth.subscriptionId)
      const subscription = auth.subscription
      if (!(yield* tokensOk)) return yield* reject("validationTokens", subscription.id)
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
      let tokensValid: boolean | undefined
      const tokensOk = Effect.suspend(() => {
        if (tokensValid !== undefined) return Effect.succeed(tokensValid)
        const tokens = decoded.right.validationTokens ?? []
        const tenants = items.filter((i) => !isLifecycleNotification(i)).map((i) => i.tenantId)
        return (tokens.length === 0 ? Effect.succeed(false) : Effect.isSuccess(deps.validateTokens(tokens, tenants)))
          .pipe(Effect.tap((ok) => Effect.sync(() => (tokensValid = ok))))
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
          outcomes.push(yield* changeNotification(item, tokensOk))
        }
      }
      if (outcomes.includes("full")) {
        deps.event(ListenEvent.QueueFull({ pending: deps.queueLimit }))
        // What was stored stays stored; Graph sends the whole body again later and those are no-ops then.
        return { status: 503, retryAfterSeconds: RETRY_AFTER_SECONDS }
      }
      // Nothing accepted: say so (a forger learns nothing it did not know; Graph retries a body that a
      // rotation race refused).
      return { status: outcomes.length > 0 && outcomes.every((o) => o === "rejected") ? 403 : 202 }
    })

  return { receive }
}
