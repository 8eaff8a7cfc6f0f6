/**
 * What the emulator served, for tests and benchmarks.
 */

export interface Counters {
  /** Graph requests received (second origin and token endpoint not included) */
  readonly total: number
  /** Graph requests by route name (see `RouteName`) */
  readonly byRoute: Record<string, number>
  /** responses by status code, Graph and second origin */
  readonly byStatus: Record<string, number>
  /** 429 responses, whatever caused them (fault rules, rate limit, concurrency ceiling) */
  readonly throttled: number
  /** injected faults by kind (`FaultKind`, plus `rateLimit`, `concurrency`) */
  readonly faults: Record<string, number>
  /**
   * completed 200/206 content bodies per artifact id (either origin); metadataContent bodies are
   * counted under `<transcriptId>#metadataContent`
   */
  readonly contentRequests: Record<string, number>
  /** content bodies the client closed (or a reset cut) before their end, per artifact id (keys as in `contentRequests`) */
  readonly contentAborted: Record<string, number>
  /** content bytes written (complete or not) */
  readonly contentBytes: number
  /** content bytes written per artifact id (complete or not, either origin; keys as in `contentRequests`) */
  readonly contentBytesById: Record<string, number>
  /** the `Range` headers of content requests per artifact id, in arrival order (keys as in `contentRequests`) */
  readonly contentRanges: Record<string, ReadonlyArray<string>>
  readonly secondOrigin: { readonly requests: number; readonly withCredentials: number }
  /** tokens issued by the token endpoint */
  readonly tokensIssued: number
  /**
   * metered minutes billed: each recording/transcript content or metadataContent download served costs
   * its artifact's duration in whole minutes (the `meteredQuotaMinutes` policy counts against this)
   */
  readonly meteredMinutes: number
  /** content requests answered 404 because the artifact's content was not ready yet (fixture `notReady`) */
  readonly notReady: number
  /** change notifications (`/subscriptions`) */
  readonly notifications: NotificationCounters
}

export interface NotificationCounters {
  readonly subscriptionsCreated: number
  /** validation requests sent (notificationUrl and lifecycleNotificationUrl each count) */
  readonly validationRequests: number
  /** validation requests that failed (the subscription was refused) */
  readonly validationFailures: number
  /** POSTs of notifications (change and lifecycle, retries included) */
  readonly attempts: number
  /** change notifications acknowledged with a 2xx in time */
  readonly delivered: number
  /** POSTs without a 2xx in time (error status, timeout, connection failure) */
  readonly failedAttempts: number
  readonly retries: number
  /** notifications given up after the last retry */
  readonly dropped: number
  /** injected notification faults by kind (`NotificationFaultKind`) */
  readonly faults: Record<string, number>
  /** lifecycle events sent, by `lifecycleEvent` */
  readonly lifecycle: Record<string, number>
  /** successful `POST /subscriptions/{id}/reauthorize` calls */
  readonly reauthorized: number
  /** change notifications not sent because the subscription awaited reauthorization past its grace */
  readonly paused: number
}

const emptyNotificationCounters = () => ({
  subscriptionsCreated: 0,
  validationRequests: 0,
  validationFailures: 0,
  attempts: 0,
  delivered: 0,
  failedAttempts: 0,
  retries: 0,
  dropped: 0,
  faults: {} as Record<string, number>,
  lifecycle: {} as Record<string, number>,
  reauthorized: 0,
  paused: 0
})

/** @internal mutable counters behind `counters()` */
export class MutableCounters {
  total = 0
  byRoute: Record<string, number> = {}
  byStatus: Record<string, number> = {}
  throttled = 0
  faults: Record<string, number> = {}
  contentRequests: Record<string, number> = {}
  contentAborted: Record<string, number> = {}
  contentBytes = 0
  contentBytesById: Record<string, number> = {}
  contentRanges: Record<string, Array<string>> = {}
  secondOrigin = { requests: 0, withCredentials: 0 }
  tokensIssued = 0
  meteredMinutes = 0
  notReady = 0
  notifications = emptyNotificationCounters()

  bump(record: Record<string, number>, key: string, n = 1): void {
    record[key] = (record[key] ?? 0) + n
  }

  snapshot(): Counters {
    return {
      total: this.total,
      byRoute: { ...this.byRoute },
      byStatus: { ...this.byStatus },
      throttled: this.throttled,
      faults: { ...this.faults },
      contentRequests: { ...this.contentRequests },
      contentAborted: { ...this.contentAborted },
      contentBytes: this.contentBytes,
      contentBytesById: { ...this.contentBytesById },
      contentRanges: Object.fromEntries(Object.entries(this.contentRanges).map(([k, v]) => [k, [...v]])),
      secondOrigin: { ...this.secondOrigin },
      tokensIssued: this.tokensIssued,
      meteredMinutes: this.meteredMinutes,
      notReady: this.notReady,
      notifications: {
        ...this.notifications,
        faults: { ...this.notifications.faults },
        lifecycle: { ...this.notifications.lifecycle }
      }
    }
  }

  reset(): void {
    this.total = 0
    this.byRoute = {}
    this.byStatus = {}
    this.throttled = 0
    this.faults = {}
    this.contentRequests = {}
    this.contentAborted = {}
    this.contentBytes = 0
    this.contentBytesById = {}
    this.contentRanges = {}
    this.secondOrigin = { requests: 0, withCredentials: 0 }
    this.tokensIssued = 0
    this.meteredMinutes = 0
    this.notReady = 0
    this.notifications = emptyNotificationCounters()
  }
}
