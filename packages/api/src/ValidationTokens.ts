/**
 * Validating the `validationTokens` of a change notification with resource data (Graph: "Set up change
 * notifications that include resource data", "How to validate"): every token must be an RS256 JWT
 * signed by a key the authority publishes for its tenant, unexpired, for our app (`aud`), issued by that
 * tenant's authority (`iss`), for a tenant we subscribed for (`tid`), and issued to Microsoft Graph's
 * change-notification publisher (`appid`/`azp` = `0bf30f3b-4a52-48df-9a82-234910c4a086`). One bad
 * token makes the whole POST suspicious.
 *
 * ```ts
 * const validator = yield* makeValidationTokenValidator({ appIds: [clientId], tenantIds: [tenantId] })
 * yield* validator.validate(collection.validationTokens ?? [], collection.value.map((n) => n.tenantId))
 * ```
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { NotificationError, type NotificationErrorReason } from "./NotificationError.js"
import { authorityHost as authorityHostConfig } from "./internal/credentials.js"
import * as Jwt from "./internal/jwt.js"
import { checkUrl, makeSigningKeys } from "./internal/signingKeys.js"

/** The app id Graph's change-notification tokens are issued to (Graph's doc calls checking it "critical"). */
export const GRAPH_NOTIFICATION_PUBLISHER_APP_ID = "0bf30f3b-4a52-48df-9a82-234910c4a086"

export const DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"

export interface ValidationTokenOptions {
  /** Our app's client id(s): a token's `aud` must be one of them. */
  readonly appIds: ReadonlyArray<string>
  /** The tenants we subscribed for: a token's `tid` must be one of them. */
  readonly tenantIds: ReadonlyArray<string>
  /** Entra authority (default `https://login.microsoftonline.com`; `AZURE_AUTHORITY_HOST` through `makeFromConfig`). */
  readonly authorityHost?: string | undefined
  /** Clock skew allowed on `exp`/`nbf` (default 300 s). */
  readonly clockSkewSeconds?: number | undefined
  /** How long openid-configurations and key sets are kept (default 24 h: Entra rotates keys daily). */
  readonly cacheMs?: number | undefined
  /** Least time between two fetches of a key set for unknown key ids (default 60 s). */
  readonly refetchAfterMs?: number | undefined
}

/** The claims of a token that passed. */
export interface ValidatedToken {
  readonly tenantId: string
  readonly audience: string
  readonly expiresAt: number
}

export interface ValidationTokenValidator {
  /**
   * Validates every token; with `notificationTenantIds` (each notification's `tenantId`), also that a
   * valid token covers each of those tenants. Fails with the first problem found (the POST should then be
   * ignored and counted); an empty list of tokens fails too.
   */
  readonly validate: (
    tokens: ReadonlyArray<string>,
    notificationTenantIds?: ReadonlyArray<string | null | undefined>
  ) => Effect.Effect<ReadonlyArray<ValidatedToken>, NotificationError>
}

const refuse = (reason: NotificationErrorReason, message: string) =>
  new NotificationError({ reason, subscriptionId: null, message })

/**
 * A validator with its own key cache, fetching through the `HttpClient` in context. An authority host
 * that is not https (http only to loopback) fails with reason `signingKeys`.
 */
export const makeValidationTokenValidator = (
  options: ValidationTokenOptions
): Effect.Effect<ValidationTokenValidator, NotificationError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    const authorityHost = yield* Effect.try({
      try: () => checkUrl(options.authorityHost ?? DEFAULT_AUTHORITY_HOST, "authorityHost"),
      catch: (e) => refuse("signingKeys", `the authority host is not usable: ${(e as Error).message}`)
    })
    const keys = makeSigningKeys({
      http,
      authorityHost,
      cacheMs: options.cacheMs ?? 24 * 60 * 60 * 1000,
      refetchAfterMs: options.refetchAfterMs ?? 60_000
    })
    const tenants = new Set(options.tenantIds.map((t) => t.toLowerCase()))
    const skewSeconds = options.clockSkewSeconds ?? 300

    const validateOne = (token: string, index: number): Effect.Effect<ValidatedToken, NotificationError> =>
      Effect.gen(function*() {
        const which = `validation token ${index + 1}`
        const jwt = Jwt.parse(token)
        if (Jwt.isProblem(jwt)) return yield* Effect.fail(refuse(jwt.reason, `${which} is refused: ${jwt.why}`))
        const tid = jwt.claims.tid
        if (typeof tid !== "string" || !tenants.has(tid.toLowerCase())) {
          return yield* Effect.fail(
            refuse("tokenTenant", `${which} is for tenant ${JSON.stringify(tid)}, which this app did not subscribe for`)
          )
        }
        const config = yield* Effect.mapError(
          keys.tenantConfig(tid),
          (why) => refuse("signingKeys", `cannot check ${which}: ${why}`)
        )
        const key = yield* Effect.mapError(
          keys.key(config.jwksUri, jwt.kid),
          (why) => refuse("signingKeys", `cannot check ${which}: ${why}`)
        )
        if (key === null) {
          return yield* Effect.fail(
            refuse(
              "tokenUnknownKey",
              `${which} names signing key ${JSON.stringify(jwt.kid)}, which the authority does not publish`
            )
          )
        }
        if (!Jwt.signatureValid(jwt, key)) {
          return yield* Effect.fail(refuse("tokenSignature", `${which}'s signature does not verify: forged or altered`))
        }
        const now = yield* Clock.currentTimeMillis
        const problem = Jwt.claimsProblem(jwt.claims, {
          audiences: options.appIds,
          // Graph's doc names the v1 issuer; the tenant's openid-configuration names the one its authority uses
          issuers: [`https://sts.windows.net/${tid}/`, config.issuer.replace("{tenantid}", tid)],
          publisherAppId: GRAPH_NOTIFICATION_PUBLISHER_APP_ID,
          nowSeconds: Math.floor(now / 1000),
          skewSeconds
        })
        if (problem !== null) return yield* Effect.fail(refuse(problem.reason, `${which} is refused: ${problem.why}`))
        return { tenantId: tid, audience: String(jwt.claims.aud), expiresAt: jwt.claims.exp as number }
      })

    const validator: ValidationTokenValidator = {
      validate: (tokens, notificationTenantIds) =>
        Effect.gen(function*() {
          if (tokens.length === 0) {
            return yield* Effect.fail(
              refuse("tokenMalformed", "the notification carries resource data but no validation tokens")
            )
          }
          const valid: Array<ValidatedToken> = []
          for (let i = 0; i < tokens.length; i++) valid.push(yield* validateOne(tokens[i], i))
          for (const t of notificationTenantIds ?? []) {
            if (typeof t !== "string" || !valid.some((v) => v.tenantId.toLowerCase() === t.toLowerCase())) {
              return yield* Effect.fail(
                refuse("tokenTenant", `no valid validation token covers tenant ${JSON.stringify(t)} of a notification`)
              )
            }
          }
          return valid
        })
    }
    return validator
  })

/** `makeValidationTokenValidator` with the authority from `AZURE_AUTHORITY_HOST` (as the credential uses it) when set. */
export const makeValidationTokenValidatorFromConfig = (
  options: Omit<ValidationTokenOptions, "authorityHost">
): Effect.Effect<ValidationTokenValidator, ConfigError.ConfigError | NotificationError, HttpClient.HttpClient> =>
  Effect.flatMap(
    authorityHostConfig,
    (host) => makeValidationTokenValidator({ ...options, authorityHost: Option.getOrUndefined(host) })
  )
