/**
 * Bearer tokens for requests: a static Redacted token, or an @azure/identity
 * TokenCredential whose tokens are cached until shortly before expiry and
 * fetched by one fiber at a time (no stampede of parallel getToken calls).
 * Tokens never leave this module except as the Authorization header value.
 */
import type { AccessToken, TokenCredential } from "@azure/identity"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"

export interface TokenProvider {
  /** The current token (Redacted so it cannot end up in a log by accident). */
  readonly get: Effect.Effect<Redacted.Redacted<string>, TokenFailure>
  /**
   * The token `get` would yield without fetching (a static one, or a cached one still fresh), else
   * undefined: the request loop reads it without an Effect per request.
   */
  readonly current: () => Redacted.Redacted<string> | undefined
  /** Drops `token` from the cache so the next `get` fetches a fresh one. Returns whether a refresh is possible. */
  readonly invalidate: (token: Redacted.Redacted<string>) => boolean
}

/** getToken failed: the credential's own message (it names the missing env var / Entra error, never a secret). */
export class TokenFailure {
  readonly _tag = "TokenFailure"
  constructor(readonly message: string, readonly code: string | null) {}
}

const REFRESH_MARGIN_MS = 2 * 60_000

/**
 * Why a static token cannot be sent (null: it can). A header value cannot carry line breaks or other
 * control characters; Node would throw a defect from deep inside the HTTP client instead.
 */
export const staticTokenProblem = (token: string): string | null => {
  const bad = /[^\t\x20-\x7e\x80-\xff]/.exec(token)
  if (bad === null) return null
  const what = bad[0] === "\n" || bad[0] === "\r"
    ? "a line break"
    : `the character U+${bad[0]!.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`
  return `the access token contains ${what}, which an HTTP header cannot carry`
}

export const makeTokenProvider = (
  credential: TokenCredential | Redacted.Redacted<string>,
  scope: string
): TokenProvider => {
  if (Redacted.isRedacted(credential)) {
    const problem = staticTokenProblem(Redacted.value(credential as Redacted.Redacted<string>))
    if (problem !== null) {
      return {
        get: Effect.fail(new TokenFailure(problem, "InvalidCredential")),
        current: () => undefined,
        invalidate: () => false
      }
    }
    const token = credential as Redacted.Redacted<string>
    return { get: Effect.succeed(token), current: () => token, invalidate: () => false }
  }
  if (
    credential === null || typeof credential !== "object" ||
    typeof (credential as TokenCredential).getToken !== "function"
  ) {
    const failure = new TokenFailure("credential must be a TokenCredential or a Redacted token", "InvalidCredential")
    return { get: Effect.fail(failure), current: () => undefined, invalidate: () => false }
  }
  const cred = credential as TokenCredential
  let cached: { token: Redacted.Redacted<string>; refreshAt: number } | undefined
  const lock = Effect.unsafeMakeSemaphore(1)
  const fetch = Effect.tryPromise({
    try: () => cred.getToken(scope),
    catch: (e) => {
      const err = e as { name?: string; message?: string } | undefined
      return new TokenFailure(
        `could not get a token for ${scope}: ${err?.name ?? "Error"}: ${String(err?.message ?? e).split("\n")[0]}`,
        err?.name ?? null
      )
    }
  }).pipe(
    Effect.flatMap((t: AccessToken | null) =>
      t === null || typeof t.token !== "string" || t.token === ""
        ? Effect.fail(new TokenFailure(`the credential returned no token for ${scope}`, "NoToken"))
        : Effect.sync(() => {
          const now = Date.now()
          const expires = typeof t.expiresOnTimestamp === "number" ? t.expiresOnTimestamp : now + 60_000
          // Short-lived tokens (tests, emulators) keep most of their life instead of a fixed 2 min margin.
          const byExpiry = expires - Math.min(REFRESH_MARGIN_MS, Math.max(0, expires - now) / 4)
          const refreshAt = typeof t.refreshAfterTimestamp === "number"
            ? Math.min(t.refreshAfterTimestamp, byExpiry)
            : byExpiry
          cached = { token: Redacted.make(t.token), refreshAt }
          return cached.token
        })
    )
  )
  const fresh = () => cached !== undefined && Date.now() < cached.refreshAt
  const get = Effect.suspend(() =>
    fresh()
      ? Effect.succeed(cached!.token)
      : lock.withPermits(1)(Effect.suspend(() => (fresh() ? Effect.succeed(cached!.token) : fetch)))
  )
  return {
    get,
    current: () => (fresh() ? cached!.token : undefined),
    invalidate: (token) => {
      if (cached !== undefined && Redacted.value(cached.token) === Redacted.value(token)) cached = undefined
      return true
    }
  }
}
