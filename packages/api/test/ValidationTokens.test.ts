/**
 * validationTokens against a real local HTTP authority: it serves a tenant's openid-configuration and
 * a JWKS (as Entra's v1 endpoints do: issuer https://sts.windows.net/{tid}/), and counts the fetches.
 * The tokens are signed here with node:crypto, claims as Graph's doc shows them.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { serverCertificate, type TestCa } from "@meeting-artifacts/graph-emulator"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as NodeCrypto from "node:crypto"
import * as http from "node:http"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import {
  GRAPH_NOTIFICATION_PUBLISHER_APP_ID,
  makeValidationTokenValidator,
  makeValidationTokenValidatorFromConfig,
  type ValidationTokenOptions
} from "../src/index.js"

const TENANT = "84bd8158-6d4d-4958-8b9f-9d6445542f95"
const OTHER_TENANT = "11111111-2222-4333-8444-555555555555"
const APP = "8e460676-ae3f-4b1e-8790-ee0fb5d6148f"

const rsa = () => NodeCrypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
const keyA = rsa()
const keyB = rsa()
const stranger = rsa()

const jwk = (kid: string, pair: ReturnType<typeof rsa>) => ({
  kty: "RSA",
  use: "sig",
  kid,
  ...pair.publicKey.export({ format: "jwk" })
})

let published: Array<unknown> = []
const fetches = { config: 0, keys: 0 }
let server: http.Server
let authority: string
let tlsServer: https.Server
let tlsAuthority: string

/** An Entra-like authority at `origin`: the tenant's openid-configuration and the JWKS it names. */
const authorityHandler = (origin: () => string) => (req: http.IncomingMessage, res: http.ServerResponse) => {
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" })
    res.end(JSON.stringify(body))
  }
  if (req.url === `/${TENANT}/.well-known/openid-configuration`) {
    fetches.config++
    return send(200, { issuer: `https://sts.windows.net/${TENANT}/`, jwks_uri: `${origin()}/common/discovery/keys` })
  }
  if (req.url === "/common/discovery/keys") {
    fetches.keys++
    return send(200, { keys: published })
  }
  send(404, { error: "not_found" })
}

const listen = async (s: http.Server | https.Server) => {
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve))
  return (s.address() as AddressInfo).port
}

beforeAll(async () => {
  server = http.createServer(authorityHandler(() => authority))
  authority = `http://127.0.0.1:${await listen(server)}`
  // https with the tests' shared CA (trusted through NODE_EXTRA_CA_CERTS), as AZURE_AUTHORITY_HOST must be
  const ca = JSON.parse(process.env.GRAPH_EMULATOR_TEST_CA!) as TestCa
  tlsServer = https.createServer(await serverCertificate(ca), authorityHandler(() => tlsAuthority))
  tlsAuthority = `https://127.0.0.1:${await listen(tlsServer)}`
})
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await new Promise<void>((resolve) => tlsServer.close(() => resolve()))
})

const now = () => Math.floor(Date.now() / 1000)

const sign = (
  claims: Record<string, unknown>,
  options?: { readonly kid?: string; readonly key?: NodeCrypto.KeyObject; readonly alg?: string }
) => {
  const header = Buffer.from(JSON.stringify({ typ: "JWT", alg: options?.alg ?? "RS256", kid: options?.kid ?? "A" }))
    .toString("base64url")
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url")
  const signature = NodeCrypto.sign("RSA-SHA256", Buffer.from(`${header}.${payload}`), options?.key ?? keyA.privateKey)
  return `${header}.${payload}.${signature.toString("base64url")}`
}

// the claims of Graph's example token, with times around now
const graphClaims = (extra?: Record<string, unknown>) => ({
  aud: APP,
  iss: `https://sts.windows.net/${TENANT}/`,
  iat: now() - 60,
  nbf: now() - 60,
  exp: now() + 3600,
  appid: GRAPH_NOTIFICATION_PUBLISHER_APP_ID,
  appidacr: "2",
  tid: TENANT,
  ver: "1.0",
  ...extra
})

// the HttpClient must outlive the validator: each test provides it to its whole body
const validator = (options?: Partial<ValidationTokenOptions>) =>
  makeValidationTokenValidator({ appIds: [APP], tenantIds: [TENANT], authorityHost: authority, ...options })

const reason = <A, E extends { readonly reason: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (e) => e.reason)

describe("validationTokens", () => {
  it.live("a token as Graph issues it passes; configuration and keys are fetched once and cached", () =>
    Effect.gen(function*() {
      published = [jwk("A", keyA)]
      fetches.config = 0
      fetches.keys = 0
      const v = yield* validator()
      const valid = yield* v.validate([sign(graphClaims())], [TENANT])
      expect(valid).toEqual([{ tenantId: TENANT, audience: APP, expiresAt: expect.any(Number) }])
      yield* v.validate([
        sign(graphClaims()),
        sign(graphClaims({ appid: undefined, azp: GRAPH_NOTIFICATION_PUBLISHER_APP_ID }))
      ])
      expect(fetches).toEqual({ config: 1, keys: 1 })
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.live("expired, wrong audience, wrong issuer, wrong publisher, other tenant, bad signature, alg none", () =>
    Effect.gen(function*() {
      published = [jwk("A", keyA)]
      const v = yield* validator()
      expect(yield* reason(v.validate([sign(graphClaims({ exp: now() - 400 }))]))).toBe("tokenExpired")
      expect(yield* reason(v.validate([sign(graphClaims({ nbf: now() + 900 }))]))).toBe("tokenExpired")
      expect(yield* reason(v.validate([sign(graphClaims({ aud: "00000003-0000-0000-c000-000000000000" }))]))).toBe(
        "tokenAudience"
      )
      expect(yield* reason(v.validate([sign(graphClaims({ iss: `https://sts.windows.net/${OTHER_TENANT}/` }))]))).toBe(
        "tokenIssuer"
      )
      expect(yield* reason(v.validate([sign(graphClaims({ appid: APP }))]))).toBe("tokenPublisher")
      expect(yield* reason(v.validate([sign(graphClaims({ tid: OTHER_TENANT }))]))).toBe("tokenTenant")
      // signed by a key that is not the published key A, but claiming to be A
      expect(yield* reason(v.validate([sign(graphClaims(), { key: stranger.privateKey })]))).toBe("tokenSignature")
      const good = sign(graphClaims())
      const [h, , s] = good.split(".")
      const altered = `${h}.${Buffer.from(JSON.stringify(graphClaims({ aud: "x" }))).toString("base64url")}.${s}`
      expect(yield* reason(v.validate([altered]))).toBe("tokenSignature")
      const none = `${Buffer.from(JSON.stringify({ alg: "none", kid: "A" })).toString("base64url")}.${
        good.split(".")[1]
      }.AA`
      expect(yield* reason(v.validate([none]))).toBe("tokenMalformed")
      expect(yield* reason(v.validate([]))).toBe("tokenMalformed")
      // one bad token spoils the batch; a notification tenant no token covers is refused
      expect(yield* reason(v.validate([good, sign(graphClaims({ exp: now() - 400 }))]))).toBe("tokenExpired")
      expect(yield* reason(v.validate([good], [TENANT, OTHER_TENANT]))).toBe("tokenTenant")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.live("a small clock skew is tolerated", () =>
    Effect.gen(function*() {
      published = [jwk("A", keyA)]
      const v = yield* validator({ clockSkewSeconds: 120 })
      yield* v.validate([sign(graphClaims({ exp: now() - 30 }))])
      expect(yield* reason(v.validate([sign(graphClaims({ exp: now() - 600 }))]))).toBe("tokenExpired")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.live("an unknown kid fetches the keys once more (rotation); one still unknown is refused without refetching", () =>
    Effect.gen(function*() {
      published = [jwk("A", keyA)]
      fetches.keys = 0
      const v = yield* validator()
      yield* v.validate([sign(graphClaims())])
      expect(fetches.keys).toBe(1)
      // the authority rotates to B
      published = [jwk("A", keyA), jwk("B", keyB)]
      yield* v.validate([sign(graphClaims(), { kid: "B", key: keyB.privateKey })])
      expect(fetches.keys).toBe(2)
      expect(yield* reason(v.validate([sign(graphClaims(), { kid: "Z", key: stranger.privateKey })]))).toBe(
        "tokenUnknownKey"
      )
      expect(yield* reason(v.validate([sign(graphClaims(), { kid: "Y", key: stranger.privateKey })]))).toBe(
        "tokenUnknownKey"
      )
      // within refetchAfterMs of the last fetch: made-up key ids do not make it fetch again
      expect(fetches.keys).toBe(2)
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.live("an authority that cannot be reached or is not https is a signingKeys error", () =>
    Effect.gen(function*() {
      const down = yield* validator({ authorityHost: "http://127.0.0.1:9" })
      expect(yield* reason(down.validate([sign(graphClaims())]))).toBe("signingKeys")
      expect(yield* reason(validator({ authorityHost: "http://login.example.test" }))).toBe("signingKeys")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.live("an authority that fails is asked once for a burst of notifications, not once per waiting notification", () =>
    Effect.gen(function*() {
      let asked = 0
      const failing = http.createServer((_req, res) => {
        asked++
        res.writeHead(503, { "content-type": "application/json" })
        res.end("{}")
      })
      const port = yield* Effect.promise(() => listen(failing))
      yield* Effect.addFinalizer(() => Effect.promise(() => new Promise<void>((r) => failing.close(() => r()))))
      const v = yield* validator({ authorityHost: `http://127.0.0.1:${port}` })
      const reasons = yield* Effect.forEach(
        Array.from({ length: 6 }, () => v.validate([sign(graphClaims())])),
        reason,
        { concurrency: "unbounded" }
      )
      expect(reasons).toEqual(Array(6).fill("signingKeys"))
      expect(asked).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))

  it.live("makeValidationTokenValidatorFromConfig takes the authority from AZURE_AUTHORITY_HOST (https only)", () =>
    Effect.gen(function*() {
      published = [jwk("A", keyA)]
      const withHost = (host: string) =>
        Effect.withConfigProvider(
          makeValidationTokenValidatorFromConfig({ appIds: [APP], tenantIds: [TENANT] }),
          ConfigProvider.fromMap(new Map([["AZURE_AUTHORITY_HOST", host]]))
        )
      const before = fetches.config
      const v = yield* withHost(tlsAuthority)
      yield* v.validate([sign(graphClaims())])
      expect(fetches.config).toBe(before + 1)
      const plain = yield* Effect.flip(withHost(authority))
      expect(plain._tag).toBe("ConfigError")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
})
