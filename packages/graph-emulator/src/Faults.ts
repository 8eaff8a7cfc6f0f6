/**
 * Fault injection: named profiles and per-route rules. Every decision derives from the seed and the
 * request (method + URL + attempt number), and each distinct request gets at most
 * `maxFaultsPerRequest` injected faults, so retrying the same request always succeeds eventually.
 */

/** Route names used by counters (`byRoute`) and by fault rules. */
export type RouteName =
  | "user"
  | "meeting"
  | "meetingsByJoinUrl"
  | "recordings"
  | "recording"
  | "recordingContent"
  | "transcripts"
  | "transcript"
  | "transcriptContent"
  | "transcriptMetadataContent"
  | "getAllRecordings"
  | "getAllTranscripts"
  | "getAllRecordingsDelta"
  | "getAllTranscriptsDelta"
  // ad hoc calls (`/users/{id}/adhocCalls/...`)
  | "adhocRecordings"
  | "adhocRecording"
  | "adhocRecordingContent"
  | "adhocTranscripts"
  | "adhocTranscript"
  | "adhocTranscriptContent"
  | "adhocTranscriptMetadataContent"
  | "getAllAdhocRecordings"
  | "getAllAdhocTranscripts"
  | "getAllAdhocRecordingsDelta"
  | "getAllAdhocTranscriptsDelta"
  // change notifications: `/subscriptions`, `/subscriptions/{id}`, `/subscriptions/{id}/reauthorize`
  | "subscriptions"
  | "subscription"
  | "subscriptionReauthorize"
  | "unknown"

export const contentRoutes: ReadonlyArray<RouteName> = [
  "recordingContent",
  "transcriptContent",
  "transcriptMetadataContent",
  "adhocRecordingContent",
  "adhocTranscriptContent",
  "adhocTranscriptMetadataContent"
]
export const pagedRoutes: ReadonlyArray<RouteName> = [
  "recordings",
  "transcripts",
  "getAllRecordings",
  "getAllTranscripts",
  "getAllRecordingsDelta",
  "getAllTranscriptsDelta",
  "adhocRecordings",
  "adhocTranscripts",
  "getAllAdhocRecordings",
  "getAllAdhocTranscripts",
  "getAllAdhocRecordingsDelta",
  "getAllAdhocTranscriptsDelta"
]

/** Delta routes (where `deltaDuplicates` applies). */
export const deltaRoutes: ReadonlyArray<RouteName> = [
  "getAllRecordingsDelta",
  "getAllTranscriptsDelta",
  "getAllAdhocRecordingsDelta",
  "getAllAdhocTranscriptsDelta"
]

/**
 * - `429-seconds` / `429-date` / `429-none`: 429 TooManyRequests with Retry-After in seconds, as an
 *   HTTP date, or absent
 * - `500`, `502`, `503` (Retry-After seconds), `504`
 * - `reset`: content routes only: headers and part of the body, then the connection is destroyed
 * - `redirect`: content routes only: 302 to the second origin, which refuses requests carrying Authorization
 * - `emptyPage`: paged routes only: `value: []` with an `@odata.nextLink` to the same position
 * - `malformedJson`: paged routes only: a 200 whose JSON body is cut in half
 * - `deltaDuplicates`: delta routes, replayed deltaLinks only: the round also returns the (up to 3)
 *   artifacts added just before the previous round ended, already seen: Graph's documented "delta may
 *   return already seen artifacts" (not in any profile: a client must dedupe by id)
 */
export type FaultKind =
  | "429-seconds"
  | "429-date"
  | "429-none"
  | "500"
  | "502"
  | "503"
  | "504"
  | "reset"
  | "redirect"
  | "emptyPage"
  | "malformedJson"
  | "deltaDuplicates"

export interface FaultRule {
  readonly fault: FaultKind
  /** chance per attempt, 0..1 */
  readonly probability: number
  /** routes the rule applies to (default: all it makes sense for) */
  readonly routes?: ReadonlyArray<RouteName>
  /** at most this many times in total for the emulator's life (until `setFaults`) */
  readonly limit?: number
}

export interface FaultConfig {
  readonly seed?: number
  readonly rules?: ReadonlyArray<FaultRule>
  /** bound on injected faults per distinct request (method + URL); default 2 */
  readonly maxFaultsPerRequest?: number
  /** per-tenant token bucket; over it: 429 with a Retry-After after which a token is available */
  readonly rateLimit?: { readonly requestsPerSecond: number; readonly burst?: number }
  /** requests in flight (content bodies included) above this get 429 with Retry-After: 1 */
  readonly maxConcurrency?: number
  /** added latency per request, fixed or uniformly drawn from [min, max] (deterministic from seed) */
  readonly latencyMs?: number | { readonly min: number; readonly max: number }
  /** Retry-After seconds used by 429-seconds and 503 (default 1; keep small) */
  readonly retryAfterSeconds?: number
  /**
   * content routes (both origins) answer every request with 200 and the whole body, ignoring `Range`
   * (Graph documents no Range support: a client must cope)
   */
  readonly ignoreRange?: boolean
  /** pace every content body to about this many bytes per second (a slow link; default: as fast as the socket takes) */
  readonly contentBytesPerSecond?: number
}

export type FaultProfile = "none" | "throttled" | "hostile"

export const profiles: Record<FaultProfile, FaultConfig> = {
  none: {},
  throttled: {
    rules: [
      { fault: "429-seconds", probability: 0.15 },
      { fault: "429-date", probability: 0.1 },
      { fault: "429-none", probability: 0.05 }
    ],
    maxFaultsPerRequest: 2,
    rateLimit: { requestsPerSecond: 40, burst: 20 }
  },
  hostile: {
    rules: [
      { fault: "429-seconds", probability: 0.06 },
      { fault: "429-date", probability: 0.04 },
      { fault: "429-none", probability: 0.03 },
      { fault: "500", probability: 0.03 },
      { fault: "502", probability: 0.03 },
      { fault: "503", probability: 0.04 },
      { fault: "504", probability: 0.03 },
      { fault: "reset", probability: 0.2 },
      { fault: "redirect", probability: 0.3 },
      { fault: "emptyPage", probability: 0.15 },
      { fault: "malformedJson", probability: 0.5, limit: 1 }
    ],
    maxFaultsPerRequest: 3,
    rateLimit: { requestsPerSecond: 100, burst: 40 },
    maxConcurrency: 16,
    latencyMs: { min: 0, max: 15 }
  }
}

export const resolveFaults = (input: FaultProfile | FaultConfig | undefined): FaultConfig => {
  if (input === undefined) return profiles.none
  if (typeof input === "string") {
    const p = profiles[input]
    if (p === undefined) {
      throw new Error(`unknown fault profile ${JSON.stringify(input)}: expected none, throttled or hostile`)
    }
    return p
  }
  return input
}

export const isFaultProfile = (s: string): s is FaultProfile => s === "none" || s === "throttled" || s === "hostile"
