/**
 * The `listen` job's knobs: defaults and bounds, in one place. Plain constants and checks with no imports,
 * so the CLI's `--help` shows them without loading the job (subpath `@meeting-artifacts/pipeline/ListenLimits`).
 */

/** Lifetime asked for without a lifecycle URL: Graph refuses a recording/transcript subscription over an hour without one. */
export const SHORT_SUBSCRIPTION_MINUTES = 60

/**
 * Lifetime asked for with a lifecycle URL: a margin under Graph's longest for Teams recordings/transcripts
 * (4320 minutes, the subscription resource's "maximum length of subscription per resource type").
 */
export const LONG_SUBSCRIPTION_MINUTES = 4230

/** Graph's longest subscription to recordings/transcripts, minutes. */
export const MAX_SUBSCRIPTION_MINUTES = 4320

/** Announced artifacts stored and not yet exported at most; over it the endpoint answers 503 + Retry-After. */
export const DEFAULT_QUEUE_LIMIT = 10_000

/** Local port of the endpoint (0: any free port). */
export const DEFAULT_LISTEN_PORT = 0

/** Why a subscription lifetime is not acceptable, or undefined. */
export const subscriptionMinutesProblem = (minutes: number, hasLifecycleUrl: boolean): string | undefined => {
  const longest = hasLifecycleUrl ? MAX_SUBSCRIPTION_MINUTES : SHORT_SUBSCRIPTION_MINUTES
  if (minutes > 0 && minutes <= longest) return undefined
  return `must be over 0 and at most ${longest}${
    hasLifecycleUrl ? "" : " without --lifecycle-url (Graph requires one for a subscription past an hour)"
  }`
}

export const queueLimitProblem = (n: number): string | undefined =>
  Number.isInteger(n) && n >= 1 ? undefined : "must be a whole number, 1 or more"

export const portProblem = (n: number): string | undefined =>
  Number.isInteger(n) && n >= 0 && n <= 65535 ? undefined : "must be 0-65535"
