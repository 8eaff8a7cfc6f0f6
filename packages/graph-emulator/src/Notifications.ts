/**
 * Change notifications: the options of the emulator's `/subscriptions` surface and the faults it can inject
 * into deliveries. Graph's behaviour being imitated is described in the README ("Change notifications").
 */

/** Graph's lifecycle events (sent to a subscription's `lifecycleNotificationUrl`). */
export type LifecycleEvent = "reauthorizationRequired" | "subscriptionRemoved" | "missed"

export const lifecycleEvents: ReadonlyArray<LifecycleEvent> = [
  "reauthorizationRequired",
  "subscriptionRemoved",
  "missed"
]

/** Maximum lifetime of a subscription to callRecording / callTranscript resources: 4,320 minutes (Graph docs). */
export const maxSubscriptionMinutes = 4320

/** Beyond this lifetime a subscription needs a `lifecycleNotificationUrl` (Graph docs: 1 hour). */
export const lifecycleUrlRequiredAfterMinutes = 60

/**
 * - `duplicate`: the notification is delivered twice (two POSTs)
 * - `outOfOrder`: the notification is held back and delivered after the next one (or after `delayMs` when
 *   no other comes)
 * - `delayed`: the notification is delivered `delayMs` late
 * - `missed`: the notification is dropped and a `missed` lifecycle event goes to the lifecycle URL, as Graph
 *   does when it could not deliver
 */
export type NotificationFaultKind = "duplicate" | "outOfOrder" | "delayed" | "missed"

export interface NotificationFaultRule {
  readonly fault: NotificationFaultKind
  /** chance per notification, 0..1 */
  readonly probability: number
  /** at most this many times in total (until the faults are replaced) */
  readonly limit?: number
}

export interface NotificationFaultConfig {
  /** seed of the dice (default: the emulator's seed) */
  readonly seed?: number
  readonly rules?: ReadonlyArray<NotificationFaultRule>
  /** delay of `delayed` notifications and longest hold of `outOfOrder` ones, ms (default 500) */
  readonly delayMs?: number
}

export type NotificationFaultProfile = "none" | "hostile"

export const notificationFaultProfiles: Record<NotificationFaultProfile, NotificationFaultConfig> = {
  none: {},
  hostile: {
    rules: [
      { fault: "duplicate", probability: 0.15 },
      { fault: "outOfOrder", probability: 0.15 },
      { fault: "delayed", probability: 0.15 },
      { fault: "missed", probability: 0.05 }
    ],
    delayMs: 500
  }
}

const faultKinds: ReadonlyArray<NotificationFaultKind> = ["duplicate", "outOfOrder", "delayed", "missed"]

/** A profile name or a config, checked; throws on unknown names and kinds. */
export const resolveNotificationFaults = (
  input: NotificationFaultProfile | NotificationFaultConfig | undefined
): NotificationFaultConfig => {
  if (input === undefined) return notificationFaultProfiles.none
  if (typeof input === "string") {
    const p = notificationFaultProfiles[input]
    if (p === undefined) {
      throw new Error(`unknown notification fault profile ${JSON.stringify(input)}: expected none or hostile`)
    }
    return p
  }
  if (typeof input !== "object" || input === null) throw new Error("notification faults must be an object")
  for (const r of input.rules ?? []) {
    if (!faultKinds.includes(r?.fault)) {
      throw new Error(`unknown notification fault ${JSON.stringify(r?.fault)}: expected ${faultKinds.join(", ")}`)
    }
    if (typeof r.probability !== "number" || r.probability < 0 || r.probability > 1) {
      throw new Error(`notification fault ${r.fault}: probability must be a number in 0..1`)
    }
  }
  return input
}

export interface NotificationOptions {
  /**
   * PEM CA certificate(s) trusted for HTTPS notification URLs, on top of Node's defaults (and
   * NODE_EXTRA_CA_CERTS): lets a receiver with a test certificate be reached
   */
  readonly ca?: string | ReadonlyArray<string>
  /** accept `http://` notification URLs (Graph requires HTTPS; default false) */
  readonly allowHttp?: boolean
  readonly faults?: NotificationFaultProfile | NotificationFaultConfig
  /** a delivery not answered 2xx within this is a failure and is retried (Graph: 3 s) */
  readonly ackTimeoutMs?: number
  /** the validation request must be answered within this (Graph: 10 s) */
  readonly validationTimeoutMs?: number
  /**
   * waits before each retry of a delivery that got no 2xx; when they are used up the notification is
   * dropped (Graph retries for up to 4 hours; default 1 s, 2 s, 5 s, 10 s, 30 s, 60 s)
   */
  readonly retryDelaysMs?: ReadonlyArray<number>
  /**
   * how long before a subscription expires its `reauthorizationRequired` lifecycle event is sent (default
   * 15 minutes, at most half the remaining lifetime)
   */
  readonly reauthorizationLeadSeconds?: number
  /**
   * after a `reauthorizationRequired` event, change notifications keep flowing this long; then delivery
   * pauses (those changes are lost, as Graph documents) until `POST …/reauthorize` or a renewal
   * (default 600 s)
   */
  readonly reauthorizationGraceSeconds?: number
}
