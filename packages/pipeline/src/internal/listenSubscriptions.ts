/**
 * The `listen` job's subscriptions: made on start (or kept, when the stored ones still live at Graph with
 * our settings), renewed before they expire, moved to a new certificate on rotation, reauthorized or made
 * again when Graph says so. Each is stored (with its secret clientState) in the checkpoint store.
 */
import {
  type GraphClientService,
  type GraphError,
  type NotificationCertificateRing,
  subscriptionResource
} from "@meeting-artifacts/api"
import type { CheckpointStore, SinkError } from "@meeting-artifacts/sinks"
import { randomBytes } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { ListenEvent } from "../ListenEvent.js"
import type { ValidatedListenOptions } from "../ListenOptions.js"

type ListenSubscription = CheckpointStore.ListenSubscription

/** The resources to subscribe to: tenant-wide, or each organizer's. */
export const wantedResources = (opts: ValidatedListenOptions): ReadonlyArray<string> =>
  opts.perOrganizer
    ? opts.organizers.flatMap((userId) => [
      subscriptionResource("recordings", { _tag: "User", userId }),
      subscriptionResource("transcripts", { _tag: "User", userId })
    ])
    : [
      subscriptionResource("recordings", { _tag: "Tenant" }),
      subscriptionResource("transcripts", { _tag: "Tenant" })
    ]

/** When to renew: half the lifetime before expiry, at most an hour before. */
export const renewMarginMs = (opts: ValidatedListenOptions): number =>
  Math.min(opts.subscriptionMinutes * 60_000 / 2, 3_600_000)

export interface SubscriptionDeps {
  readonly graph: GraphClientService
  readonly checkpoint: CheckpointStore.CheckpointStoreService
  readonly opts: ValidatedListenOptions
  readonly certificates: () => NotificationCertificateRing
  readonly event: (e: ListenEvent) => void
}

export const make = (deps: SubscriptionDeps) => {
  const { checkpoint, event, graph, opts } = deps
  /** The live subscriptions by id: what notifications are checked against. */
  const live = new Map<string, ListenSubscription>()

  const expiration = () => new Date(Date.now() + opts.subscriptionMinutes * 60_000).toISOString()

  const save = (s: ListenSubscription) =>
    Effect.zipRight(Effect.sync(() => live.set(s.id, s)), checkpoint.putSubscription(s))

  const forget = (id: string, reason: string) =>
    Effect.zipRight(
      Effect.sync(() => {
        live.delete(id)
        event(ListenEvent.SubscriptionDeleted({ id, reason }))
      }),
      checkpoint.removeSubscription(id)
    )

  const create = (resource: string): Effect.Effect<ListenSubscription, GraphError | SinkError> =>
    Effect.gen(function*() {
      const clientState = randomBytes(32).toString("base64url")
      const cert = deps.certificates().current
      const created = yield* graph.createSubscription({
        resource,
        changeType: "created",
        notificationUrl: opts.notificationUrl,
        ...(opts.lifecycleNotificationUrl === null ? {} : { lifecycleNotificationUrl: opts.lifecycleNotificationUrl }),
        expirationDateTime: expiration(),
        clientState: Redacted.make(clientState),
        includeResourceData: true,
        encryptionCertificate: cert.certificate,
        encryptionCertificateId: cert.id
      })
      const s: ListenSubscription = {
        id: created.id,
        resource,
        clientState,
        expirationDateTime: created.expirationDateTime,
        notificationUrl: opts.notificationUrl,
        lifecycleNotificationUrl: opts.lifecycleNotificationUrl,
        certificateId: cert.id,
        createdAt: new Date().toISOString()
      }
      yield* save(s)
      event(ListenEvent.SubscriptionCreated({ id: s.id, resource, expirationDateTime: s.expirationDateTime }))
      return s
    })

  const deleteQuietly = (id: string, reason: string) =>
    graph.deleteSubscription(id).pipe(
      Effect.catchAll(() => Effect.void),
      Effect.zipRight(forget(id, reason))
    )

  /** A stored subscription still usable as is: same URLs, still at Graph (404: gone while we were away). */
  const stillLive = (s: ListenSubscription) =>
    s.notificationUrl !== opts.notificationUrl || s.lifecycleNotificationUrl !== opts.lifecycleNotificationUrl
      ? Effect.succeed(false)
      : graph.getSubscription(s.id).pipe(
        Effect.as(true),
        Effect.catchIf((e): e is GraphError => e._tag === "NotFound", () => Effect.succeed(false))
      )

  /**
   * The stored subscriptions, accepted from now on (before `ensure` checks them at Graph): Graph redelivers
   * what a previous process did not answer as soon as the endpoint is back.
   */
  const restore: Effect.Effect<void, SinkError> = Effect.flatMap(
    checkpoint.listSubscriptions,
    (stored) => Effect.sync(() => stored.forEach((s) => live.set(s.id, s)))
  )

  /**
   * Makes sure one subscription per wanted resource exists, each kept one reauthorized; returns whether any
   * had to be made anew (then notifications may have been missed: the caller catches up).
   */
  const ensure: Effect.Effect<boolean, GraphError | SinkError> = Effect.gen(function*() {
    const wanted = new Set(wantedResources(opts))
    const stored = yield* checkpoint.listSubscriptions
    const kept = new Set<string>()
    for (const s of stored) {
      if (!wanted.has(s.resource) || kept.has(s.resource) || !(yield* stillLive(s))) {
        yield* deleteQuietly(s.id, wanted.has(s.resource) ? "replaced" : "no longer wanted")
        continue
      }
      live.set(s.id, s)
      kept.add(s.resource)
      // A reauthorizationRequired answered (202) by a process stopped before it acted on it is not sent
      // again, and Graph pauses the deliveries after a while: every kept subscription is reauthorized.
      yield* reauthorize(s).pipe(
        Effect.catchAll((e) =>
          Effect.sync(() => event(ListenEvent.Warning({ message: `reauthorizing ${s.id} on start: ${e.message}` })))
        )
      )
    }
    let made = false
    for (const resource of wanted) {
      if (kept.has(resource)) continue
      yield* create(resource)
      made = true
    }
    // Renew the kept ones now when they are due (or on an old certificate).
    yield* renewDue
    return made
  })

  /** Renews each subscription due (or still on a rotated-away certificate); one Graph lost is made again. */
  const renewDue: Effect.Effect<boolean, GraphError | SinkError> = Effect.gen(function*() {
    let remade = false
    const current = deps.certificates().current
    for (const s of [...live.values()]) {
      const due = Date.parse(s.expirationDateTime) - Date.now() <= renewMarginMs(opts)
      const rotated = s.certificateId !== current.id
      if (!due && !rotated) continue
      const renewed = yield* Effect.either(graph.renewSubscription(
        s.id,
        expiration(),
        rotated ? { encryptionCertificate: current.certificate, encryptionCertificateId: current.id } : undefined
      ))
      if (renewed._tag === "Right") {
        yield* save({
          ...s,
          expirationDateTime: renewed.right.expirationDateTime,
          certificateId: rotated ? current.id : s.certificateId
        })
        event(ListenEvent.SubscriptionRenewed({ id: s.id, expirationDateTime: renewed.right.expirationDateTime }))
      } else if (renewed.left._tag === "NotFound") {
        yield* forget(s.id, "gone at Graph")
        yield* create(s.resource)
        remade = true
      } else {
        return yield* Effect.fail(renewed.left)
      }
    }
    return remade
  })

  /** `reauthorizationRequired`: reauthorize (a renewal does it too, when that fails). */
  const reauthorize = (s: ListenSubscription) =>
    graph.reauthorizeSubscription(s.id).pipe(
      Effect.tap(() => Effect.sync(() => event(ListenEvent.SubscriptionReauthorized({ id: s.id })))),
      Effect.catchAll(() =>
        graph.renewSubscription(s.id, expiration()).pipe(
          Effect.flatMap((r) => save({ ...s, expirationDateTime: r.expirationDateTime })),
          Effect.tap(() => Effect.sync(() => event(ListenEvent.SubscriptionReauthorized({ id: s.id }))))
        )
      )
    )

  /** `subscriptionRemoved`: Graph dropped it; make it again (the caller catches up). */
  const recreate = (s: ListenSubscription) => Effect.zipRight(forget(s.id, "removed by Graph"), create(s.resource))

  return { live: (): ReadonlyMap<string, ListenSubscription> => live, restore, ensure, renewDue, reauthorize, recreate }
}
