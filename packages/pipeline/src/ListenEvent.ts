/**
 * What the `listen` job reports while it serves: plain data (JSON-serialisable), one event per thing that
 * happened, so a terminal, a log shipper or a test reads the same stream.
 */
import * as Data from "effect/Data"

/** Why a notification was refused (it never triggers a download). */
export type RejectReason =
  | "malformed"
  | "unknownSubscription"
  | "clientState"
  | "validationTokens"
  | "missingContent"
  | "unknownCertificate"
  | "key"
  | "signature"
  | "decrypt"
  | "payload"

export type ListenEvent = Data.TaggedEnum<{
  /** The endpoint accepts requests at `url` (local address). */
  Serving: { readonly url: string }
  SubscriptionCreated: { readonly id: string; readonly resource: string; readonly expirationDateTime: string }
  SubscriptionRenewed: { readonly id: string; readonly expirationDateTime: string }
  SubscriptionReauthorized: { readonly id: string }
  SubscriptionDeleted: { readonly id: string; readonly reason: string }
  LifecycleReceived: { readonly subscriptionId: string; readonly lifecycleEvent: string }
  /** An announced artifact: `queued` (new work), `duplicate` (already pending), `completed` (exported before). */
  NotificationAccepted: {
    readonly kind: "recording" | "transcript"
    readonly id: string
    readonly outcome: "queued" | "duplicate" | "completed"
  }
  NotificationRejected: { readonly reason: RejectReason; readonly subscriptionId: string | null }
  /** The pending queue is at its limit: Graph was told 503 + Retry-After. */
  QueueFull: { readonly pending: number }
  /** An announced artifact is exported (with its partner, when Graph has one); ms since it was stored. */
  Exported: { readonly kind: "recording" | "transcript"; readonly id: string; readonly latencyMs: number }
  CatchUpStarted: { readonly reason: string; readonly organizers: ReadonlyArray<string> }
  CatchUpFinished: { readonly reason: string; readonly sets: number; readonly failures: number }
  Warning: { readonly message: string }
  /** Counters since the start, on SIGTERM/SIGINT. */
  Stopped: { readonly stats: ListenStats }
}>

export const ListenEvent = Data.taggedEnum<ListenEvent>()

export interface ListenStats {
  readonly received: number
  readonly queued: number
  readonly duplicates: number
  readonly rejected: Readonly<Record<string, number>>
  readonly exported: number
  readonly lifecycle: Readonly<Record<string, number>>
}
