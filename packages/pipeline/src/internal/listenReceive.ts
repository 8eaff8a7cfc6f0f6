/**
 * One POSTed notification body: check each notification (known subscription, clientState in constant
 * time, validation tokens, signature, decryption), store what it announces durably, and say what to
 * answer. Nothing here downloads: the worker exports what was stored.
 */
import type { CheckpointStore } from "@meeting-artifacts/sinks"
import { createHash, timingSafeEqual } from "node:crypto"
import * as Effect from "effect/Effect"
import { ListenEvent, type RejectReason } from "../ListenEvent.js"
import type { Answer } from "./listenServer.js"
import { RETRY_AFTER_SECONDS } from "./listenServer.js"

/** What a decrypted notification says about the artifact. */
export interface Announced {
  readonly id: string
  readonly meetingId: string | null | undefined
  readonly organizerId: string | null | undefined
}

export interface EncryptedContent {
  readonly data: string
  readonly dataSignature: string
  readonly dataKey: string
  readonly encryptionCertificateId?: string | null | undefined
  readonly encryptionCertificateThumbprint?: string | null | undefined
}

export type LifecycleEvent = "reauthorizationRequired" | "subscriptionRemoved" | "missed"

export interface ReceiveDeps {
  readonly checkpoint: CheckpointStore.CheckpointStoreService
  /** The job's live subscriptions by id (kept in step with the store). */
  readonly subscriptions: () => ReadonlyMap<string, CheckpointStore.ListenSubscription>
  /** Signature check first, then decryption; fails with why. */
  readonly decrypt: (
    content: EncryptedContent,
    kind: "recording" | "transcript"
  ) => Effect.Effect<Announced, RejectReason>
  /** Graph's JWTs over the body; fails when any is not valid. */
  readonly validateTokens: (tokens: ReadonlyArray<string>) => Effect.Effect<void, unknown>
  readonly queueLimit: number
  readonly event: (e: ListenEvent) => void
  /** Something new is pending. */
  readonly wake: Effect.Effect<void>
  /** A lifecycle event from a known subscription with the right clientState (handled later, not awaited). */
  readonly lifecycle: (subscription: CheckpointStore.ListenSubscription, event: LifecycleEvent) => Effect.Effect<void>
}

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest()

/** Equal secrets, compared in time that does not depend on where they differ (hashes have one length). */
export const sameSecret = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b))

/** Which artifact kind a subscription's resource announces. */
export const kindOfResource = (resource: string): "recording" | "transcript" | null =>
  /getAllRecordings|\/recordings\b/i.test(resource)
    ? "recording"
    : /getAllTranscripts|\/transcripts\b/i.test(resource)
    ? "transcript"
    : null

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const text = (u: unknown): string | null => (typeof u === "string" ? u : null)

const LIFECYCLE_EVENTS: ReadonlySet<string> = new Set(["reauthorizationRequired", "subscriptionRemoved", "missed"])

type Outcome = "accepted" | "rejected" | "full"

export const make = (deps: ReceiveDeps) => {
  const reject = (reason: RejectReason, subscriptionId: string | null): Effect.Effect<Outcome> =>
    Effect.sync(() => {
      deps.event(ListenEvent.NotificationRejected({ reason, subscriptionId }))
      return "rejected" as const
    })

  /** The subscription a notification names, when its clientState is the one we gave it. */
  const authenticate = (item: Record<string, unknown>) => {
    const subscriptionId = text(item.subscriptionId)
    const subscription = subscriptionId === null ? undefined : deps.subscriptions().get(subscriptionId)
    if (subscription === undefined) return { subscriptionId, error: "unknownSubscription" as const }
    const clientState = text(item.clientState)
    if (clientState === null || !sameSecret(clientState, subscription.clientState)) {
      return { subscriptionId, error: "clientState" as const }
    }
    return { subscriptionId, subscription }
  }

  const changeNotification = (item: Record<string, unknown>): Effect.Effect<Outcome> =>
    Effect.gen(function*() {
      const auth = authenticate(item)
      if (auth.subscription === undefined) return yield* reject(auth.error, auth.subscriptionId)
      const subscription = auth.subscription
      const kind = kindOfResource(subscription.resource)
      const content = item.encryptedContent
      if (
        kind === null || !isRecord(content) || text(content.data) === null || text(content.dataSignature) === null ||
        text(content.dataKey) === null
      ) return yield* reject("missingContent", subscription.id)
      const announced = yield* Effect.either(deps.decrypt(content as unknown as EncryptedContent, kind))
      if (announced._tag === "Left") return yield* reject(announced.left, subscription.id)
      const a = announced.right
      // The clear-text resourceData names the same artifact as the signed, encrypted payload.
      const resourceData = isRecord(item.resourceData) ? item.resourceData : {}
      const claimedId = text(resourceData.id)
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
        resource: text(item.resource) ?? subscription.resource
      }, deps.queueLimit).pipe(Effect.orElseSucceed(() => "error" as const))
      if (outcome === "error") return "full" as const
      if (outcome === "full") return "full" as const
      deps.event(ListenEvent.NotificationAccepted({ kind, id: a.id, outcome }))
      if (outcome === "queued") yield* deps.wake
      return "accepted" as const
    })

  const lifecycleNotification = (item: Record<string, unknown>, event: LifecycleEvent): Effect.Effect<Outcome> =>
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
        yield* reject("malformed", null)
        return { status: 400 }
      }
      if (!isRecord(json) || !Array.isArray(json.value)) {
        yield* reject("malformed", null)
        return { status: 400 }
      }
      const items = json.value.filter(isRecord)
      const changes = items.filter((i) => !LIFECYCLE_EVENTS.has(String(i.lifecycleEvent)))
      // Graph signs each body that carries resource data with validation tokens: one missing or not
      // valid discards every change notification of the body.
      let tokensValid = true
      if (changes.some((i) => i.encryptedContent !== undefined)) {
        const tokens = Array.isArray(json.validationTokens) ? json.validationTokens.filter((t) => typeof t === "string") : []
        tokensValid = tokens.length > 0 && (yield* Effect.either(deps.validateTokens(tokens)))._tag === "Right"
      }
      const outcomes: Array<Outcome> = []
      for (const item of items) {
        const lifecycle = text(item.lifecycleEvent)
        if (lifecycle !== null && LIFECYCLE_EVENTS.has(lifecycle)) {
          outcomes.push(yield* lifecycleNotification(item, lifecycle as LifecycleEvent))
        } else if (!tokensValid) {
          outcomes.push(yield* reject("validationTokens", text(item.subscriptionId)))
        } else {
          outcomes.push(yield* changeNotification(item))
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
