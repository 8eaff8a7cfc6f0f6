/**
 * The authority's signing keys for validation tokens: each tenant's openid-configuration
 * (`{authority}/{tenant}/.well-known/openid-configuration`: `issuer`, `jwks_uri`) and the JWKS it
 * names, cached; a JWKS is fetched again when a token names a key it lacks (keys rotate daily), but such
 * refetches happen at most once per `refetchAfterMs`, so forged tokens with made-up key ids cannot make
 * us hammer the authority.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as NodeCrypto from "node:crypto"
import { isLoopbackHost } from "../GraphUrl.js"
import { publicKeyOf } from "./jwt.js"

/** JSON documents of an authority are small; anything larger is not one. */
const MAX_DOCUMENT_BYTES = 1024 * 1024
const FETCH_TIMEOUT_MS = 10_000
/**
 * How long a failed fetch of a document is remembered: the notifications queued behind it are answered
 * "retry later" at once, instead of each waiting out a fetch of its own (up to FETCH_TIMEOUT_MS each,
 * one after another) past Graph's 3 s deadline for the acknowledgement.
 */
const FAILURE_MEMORY_MS = 5_000

export interface TenantConfig {
  readonly issuer: string
  readonly jwksUri: string
}

interface KeySet {
  readonly keys: ReadonlyMap<string, NodeCrypto.KeyObject>
  readonly fetchedAt: number
  /** When it was last fetched again because a token named a key it lacked. */
  readonly refetchedForUnknownAt: number | null
}

export interface SigningKeys {
  readonly tenantConfig: (tenantId: string) => Effect.Effect<TenantConfig, string>
  /** The key with this id, fetching the JWKS again (rate-limited) when the cached one lacks it; null if none. */
  readonly key: (jwksUri: string, kid: string) => Effect.Effect<NodeCrypto.KeyObject | null, string>
}

/** An https URL, or http to a loopback host (a local test authority). */
export const checkUrl = (value: unknown, what: string): string => {
  if (typeof value !== "string") throw new Error(`${what} is missing`)
  const url = new URL(value)
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackHost(url.hostname))) {
    throw new Error(`${what} must be https: ${url.origin}`)
  }
  return value
}

const fetchJson = (http: HttpClient.HttpClient, url: string): Effect.Effect<Record<string, unknown>, string> =>
  http.get(url, { headers: { accept: "application/json" } }).pipe(
    Effect.flatMap((res) => res.status === 200 ? res.text : Effect.fail(new Error(`HTTP ${res.status}`))),
    Effect.timeoutFail({
      duration: FETCH_TIMEOUT_MS,
      onTimeout: () => new Error(`no answer in ${FETCH_TIMEOUT_MS} ms`)
    }),
    Effect.flatMap((text) =>
      Effect.try(() => {
        if (text.length > MAX_DOCUMENT_BYTES) throw new Error("the document is too large")
        const json = JSON.parse(text) as unknown
        if (json === null || typeof json !== "object") throw new Error("not a JSON object")
        return json as Record<string, unknown>
      })
    ),
    Effect.mapError((e) =>
      `GET ${new URL(url).origin}${new URL(url).pathname}: ${e instanceof Error ? e.message : String(e)}`
    )
  )

const parseKeySet = (
  json: Record<string, unknown>,
  fetchedAt: number,
  refetchedForUnknownAt: number | null
): KeySet => {
  const keys = new Map<string, NodeCrypto.KeyObject>()
  if (Array.isArray(json.keys)) {
    for (const jwk of json.keys) {
      const k = publicKeyOf(jwk)
      if (k !== null) keys.set(k.kid, k.key)
    }
  }
  return { keys, fetchedAt, refetchedForUnknownAt }
}

export const makeSigningKeys = (args: {
  readonly http: HttpClient.HttpClient
  readonly authorityHost: string
  readonly cacheMs: number
  readonly refetchAfterMs: number
}): SigningKeys => {
  const { cacheMs, http, refetchAfterMs } = args
  const authority = args.authorityHost.replace(/\/+$/, "")
  const configs = new Map<string, { readonly config: TenantConfig; readonly fetchedAt: number }>()
  const keySets = new Map<string, KeySet>()
  // one fetch at a time: concurrent notifications wait for the same document instead of each fetching it
  const lock = Effect.unsafeMakeSemaphore(1)
  const failures = new Map<string, { readonly at: number; readonly error: string }>()

  /** `fetchJson`, or the failure of its last attempt while that is recent. */
  const fetchRemembered = (url: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const failed = failures.get(url)
      if (failed !== undefined && now - failed.at < FAILURE_MEMORY_MS) return Effect.fail(failed.error)
      return fetchJson(http, url).pipe(
        Effect.tapBoth({
          onFailure: (error) => Effect.map(Clock.currentTimeMillis, (at) => void failures.set(url, { at, error })),
          onSuccess: () => Effect.sync(() => void failures.delete(url))
        })
      )
    })

  const fetchConfig = (tenantId: string, now: number) =>
    Effect.flatMap(
      fetchRemembered(`${authority}/${encodeURIComponent(tenantId)}/.well-known/openid-configuration`),
      (json) =>
        Effect.try({
          try: () => {
            const config = { issuer: checkUrl(json.issuer, "issuer"), jwksUri: checkUrl(json.jwks_uri, "jwks_uri") }
            configs.set(tenantId.toLowerCase(), { config, fetchedAt: now })
            return config
          },
          catch: (e) => `the openid-configuration of tenant ${tenantId}: ${(e as Error).message}`
        })
    )

  const fetchKeys = (jwksUri: string, now: number, forUnknownKey: boolean) =>
    Effect.map(fetchRemembered(jwksUri), (json) => {
      const set = parseKeySet(json, now, forUnknownKey ? now : keySets.get(jwksUri)?.refetchedForUnknownAt ?? null)
      keySets.set(jwksUri, set)
      return set
    })

  return {
    tenantConfig: (tenantId) =>
      lock.withPermits(1)(Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const cached = configs.get(tenantId.toLowerCase())
        return cached !== undefined && now - cached.fetchedAt < cacheMs
          ? Effect.succeed(cached.config)
          : fetchConfig(tenantId, now)
      })),
    key: (jwksUri, kid) =>
      lock.withPermits(1)(Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const cached = keySets.get(jwksUri)
        const fresh = cached !== undefined && now - cached.fetchedAt < cacheMs
        const key = cached?.keys.get(kid)
        if (fresh && key !== undefined) return Effect.succeed(key)
        const unknown = fresh && key === undefined
        if (unknown && cached.refetchedForUnknownAt !== null && now - cached.refetchedForUnknownAt < refetchAfterMs) {
          return Effect.succeed(null)
        }
        return Effect.map(fetchKeys(jwksUri, now, unknown), (set) => set.keys.get(kid) ?? null)
      }))
  }
}
