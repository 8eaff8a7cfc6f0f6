/**
 * The resilience policy and its pure parts: which answers are retried, how
 * long to wait (Retry-After first, else exponential backoff with jitter), and
 * the caps past which a call gives up with a typed error.
 */

export interface GraphPolicy {
  /** Attempts per request, the first included. */
  readonly maxAttempts: number
  /** Backoff base: the first retry without Retry-After waits about this long. */
  readonly baseDelayMs: number
  /** Backoff ceiling (without Retry-After). */
  readonly maxBackoffMs: number
  /**
   * Longest single wait the client accepts. A Retry-After asking for more fails
   * the call at once with `Throttled` carrying the wait asked for (no silent cap).
   */
  readonly maxSingleWaitMs: number
  /** Total time one call may spend waiting between retries; past it the call fails (`Throttled` for 429). */
  readonly maxTotalRetryMs: number
  /** Requests per second per tenant, shared by every fiber using the client. */
  readonly requestsPerSecond: number
  /**
   * Requests allowed back to back before the rate applies. 6 by default: a run's first burst goes out
   * before any answer can say what the tenant's budget is, and a small budget refuses what it does not
   * hold (with 10, a 5 requests/s bucket refused 5-6 of a run's first 10 requests).
   */
  readonly burst: number
  /**
   * Concurrent requests in flight per tenant, content bodies included: at least maxConcurrentDownloads.
   * Unset, 12 or maxConcurrentDownloads when that is larger (`maxConcurrentRequestsFor`).
   */
  readonly maxConcurrentRequests: number
  /** Concurrent content downloads per tenant (held for the whole body). */
  readonly maxConcurrentDownloads: number
  /** Times a 200 list page whose body is not valid JSON is fetched again. */
  readonly malformedPageRetries: number
  /** Times a cut-off content body is resumed/restarted. */
  readonly maxResumes: number
  /** Redirect hops followed per request. */
  readonly maxRedirects: number
  /** Time for one attempt to produce a response (a JSON body read included); then it counts as a transport failure. */
  readonly requestTimeoutMs: number
  /** A content body that delivers nothing for this long counts as cut off (and is resumed). */
  readonly bodyIdleTimeoutMs: number
  /**
   * How long (ms of waiting between attempts) a request keeps retrying when it cannot reach the server at
   * all (connection refused, no such host, network unreachable); then the call fails with a
   * `TransportError`. A server that is down for good should not look like minutes of silence.
   */
  readonly connectRetryMs: number
  /**
   * Largest JSON answer (a listing page, a resource) read, in bytes: a larger one fails the call with a
   * `DecodeError` naming this limit, without reading it into memory. Graph pages are far smaller.
   */
  readonly maxJsonBytes: number
  /**
   * Share the rate limiter and concurrency limits with every client in this
   * process that uses the same key (e.g. the tenant id). Without it the limits
   * belong to the client instance.
   */
  readonly tenantKey?: string | undefined
}

export const defaultPolicy: GraphPolicy = {
  maxAttempts: 10,
  baseDelayMs: 200,
  maxBackoffMs: 30_000,
  maxSingleWaitMs: 10 * 60_000,
  maxTotalRetryMs: 15 * 60_000,
  requestsPerSecond: 20,
  burst: 6,
  maxConcurrentRequests: 12,
  maxConcurrentDownloads: 4,
  malformedPageRetries: 3,
  maxResumes: 10,
  maxRedirects: 5,
  requestTimeoutMs: 120_000,
  bodyIdleTimeoutMs: 60_000,
  connectRetryMs: 10_000,
  maxJsonBytes: 16 * 1024 * 1024
}

/** Statuses retried: timeouts, throttling, and transient server errors. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504])

export const isRetryableStatus = (status: number): boolean => RETRYABLE_STATUSES.has(status)

/**
 * Parses `Retry-After` (RFC 9110: delay-seconds or an HTTP-date) into a wait
 * in ms, never negative, never shorter than what truly remains. A date is
 * measured against the server's clock: `serverNowAtLeast` is the earliest the
 * server's clock can read now, as its answers tell (see internal/serverClock.ts:
 * tight after a few answers). Without it, the response's `Date` (whole seconds)
 * is used: the server stamped it no earlier than that second began and no later
 * than our `nowMs`, so however far our clock runs ahead (and however long the
 * answer took to arrive, which looks the same) at most `at - Date` remains; a
 * clock behind the server's measures the longer `at - nowMs`. The longer of the
 * two: at most a second too long while the clocks agree, never early.
 * Returns `undefined` when absent or unparsable.
 */
export const parseRetryAfter = (
  value: string | undefined | null,
  nowMs: number,
  responseDate?: string | undefined | null,
  serverNowAtLeast?: number | null
): number | undefined => {
  if (value === undefined || value === null) return undefined
  const v = value.trim()
  if (v === "") return undefined
  if (/^\d+$/.test(v)) return Number(v) * 1000
  if (/^\d+\.\d+$/.test(v)) return Math.ceil(Number(v) * 1000) // lenient: fractional seconds
  if (/^\d/.test(v) || /^-/.test(v)) return undefined
  const at = Date.parse(v)
  if (Number.isNaN(at)) return undefined
  if (serverNowAtLeast !== undefined && serverNowAtLeast !== null) return Math.max(0, Math.ceil(at - serverNowAtLeast))
  let wait = at - nowMs
  if (responseDate) {
    const server = Date.parse(responseDate)
    if (!Number.isNaN(server)) wait = Math.max(wait, at - server)
  }
  return Math.max(0, wait)
}

/**
 * Exponential backoff with "equal jitter" for retry `attempt` (1 = first
 * retry): half the capped exponential delay plus a random half, so waits grow
 * but parallel fibers spread out. `random` is in [0, 1).
 */
export const backoffDelay = (
  attempt: number,
  policy: Pick<GraphPolicy, "baseDelayMs" | "maxBackoffMs">,
  random: number
): number => {
  const exp = Math.min(policy.maxBackoffMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1))
  return Math.round(exp / 2 + (exp / 2) * random)
}

/**
 * The most a Retry-After wait exceeds what the server asked: 5 ms (timers and clocks have ms granularity,
 * and "never earlier" must survive rounding) plus up to 20 ms of jitter. Not a share of the wait: a
 * throttled request is often the last of its run, and requests told the same moment are spread by the
 * tenant's rate limiter, not by their timers.
 */
export const RETRY_AFTER_MARGIN_MS = 25

/**
 * The wait before the next attempt: exactly what Retry-After asked (plus a
 * few ms, never less), else backoff.
 */
export const retryDelay = (
  attempt: number,
  retryAfterMs: number | undefined,
  policy: Pick<GraphPolicy, "baseDelayMs" | "maxBackoffMs">,
  random: number
): number =>
  retryAfterMs !== undefined
    ? retryAfterMs + 5 + Math.floor((RETRY_AFTER_MARGIN_MS - 5) * random)
    : backoffDelay(attempt, policy, random)

export type RetryDecision =
  | { readonly _tag: "Retry"; readonly delayMs: number }
  | { readonly _tag: "GiveUp"; readonly why: "attempts" | "singleWait" | "totalTime" }

/**
 * Whether to retry after `attempts` attempts, given what the server asked and
 * how long we have already waited.
 */
export const decideRetry = (args: {
  readonly attempts: number
  readonly retryAfterMs: number | undefined
  readonly waitedMs: number
  readonly policy: GraphPolicy
  readonly random: number
}): RetryDecision => {
  const { attempts, policy, retryAfterMs, waitedMs } = args
  if (attempts >= policy.maxAttempts) return { _tag: "GiveUp", why: "attempts" }
  if (retryAfterMs !== undefined && retryAfterMs > policy.maxSingleWaitMs) return { _tag: "GiveUp", why: "singleWait" }
  const delayMs = retryDelay(attempts, retryAfterMs, policy, args.random)
  if (waitedMs + delayMs > policy.maxTotalRetryMs) return { _tag: "GiveUp", why: "totalTime" }
  return { _tag: "Retry", delayMs }
}

type NumericKey = Exclude<keyof GraphPolicy, "tenantKey">

/** What values a knob accepts. */
export interface PolicyBound {
  readonly integer: boolean
  /** Smallest value accepted. */
  readonly min: number
  /** Largest value accepted (Infinity: no cap). */
  readonly max: number
}

const positive: PolicyBound = { integer: false, min: Number.MIN_VALUE, max: Infinity }
const positiveInteger: PolicyBound = { integer: true, min: 1, max: Infinity }
const nonNegative: PolicyBound = { integer: false, min: 0, max: Infinity }

/**
 * The values each knob accepts: the one place they are defined. `makePolicy` checks them, and so do
 * the callers that take a knob from a user (`sync`'s `concurrency`, the CLI's `--rate`, ...), through
 * `policyValueProblem`.
 */
export const policyBounds: { readonly [K in NumericKey]: PolicyBound } = {
  maxAttempts: positiveInteger,
  baseDelayMs: nonNegative,
  maxBackoffMs: nonNegative,
  maxSingleWaitMs: nonNegative,
  maxTotalRetryMs: nonNegative,
  requestsPerSecond: positive,
  burst: positive,
  maxConcurrentRequests: positiveInteger,
  // Each download holds a connection and a staging file; past 64 a tenant only collects 429s.
  maxConcurrentDownloads: { integer: true, min: 1, max: 64 },
  malformedPageRetries: nonNegative,
  maxResumes: nonNegative,
  maxRedirects: nonNegative,
  requestTimeoutMs: nonNegative,
  bodyIdleTimeoutMs: nonNegative,
  connectRetryMs: nonNegative,
  maxJsonBytes: positiveInteger
}

/** "a positive number", "an integer from 1 to 64", ... */
export const describeBound = (b: PolicyBound): string => {
  if (b.max !== Infinity) return `${b.integer ? "an integer" : "a number"} from ${b.min} to ${b.max}`
  if (b.min === 0) return `a non-negative ${b.integer ? "integer" : "number"}`
  if (b.min === Number.MIN_VALUE || b.min === 1) return `a positive ${b.integer ? "integer" : "number"}`
  return `${b.integer ? "an integer" : "a number"} of at least ${b.min}`
}

/** Why `value` is not acceptable for `key` ("must be an integer from 1 to 64"), or undefined when it is. */
export const policyValueProblem = (key: NumericKey, value: unknown): string | undefined => {
  const b = policyBounds[key]
  const ok = typeof value === "number" && Number.isFinite(value) && value >= b.min && value <= b.max &&
    (!b.integer || Number.isInteger(value))
  return ok ? undefined : `must be ${describeBound(b)}`
}

/**
 * Requests in flight for `downloads` concurrent downloads: the one `given`, else the default, raised to
 * `downloads` when that is larger (every download is a request: fewer would leave downloads that never run).
 */
export const maxConcurrentRequestsFor = (downloads: number, given?: number | undefined): number =>
  given ?? Math.max(defaultPolicy.maxConcurrentRequests, downloads)

/** Validates and completes a partial policy. */
export const makePolicy = (overrides?: Partial<GraphPolicy>): GraphPolicy => {
  const given = overrides ?? {}
  const downloads = given.maxConcurrentDownloads ?? defaultPolicy.maxConcurrentDownloads
  const p: GraphPolicy = {
    ...defaultPolicy,
    ...given,
    maxConcurrentRequests: maxConcurrentRequestsFor(downloads, given.maxConcurrentRequests)
  }
  for (const k of Object.keys(policyBounds) as Array<NumericKey>) {
    const problem = policyValueProblem(k, p[k])
    if (problem !== undefined) throw new Error(`GraphPolicy.${k} ${problem}; got ${p[k]}`)
  }
  if (p.maxConcurrentRequests < p.maxConcurrentDownloads) {
    throw new Error(
      `GraphPolicy.maxConcurrentRequests (${p.maxConcurrentRequests}) is below maxConcurrentDownloads ` +
        `(${p.maxConcurrentDownloads}): every download is a request, so some could never run`
    )
  }
  return p
}
