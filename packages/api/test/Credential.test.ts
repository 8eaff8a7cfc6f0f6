/**
 * GraphClient with real @azure/identity credentials against the emulator's HTTPS Entra-compatible
 * token endpoint (trusted through NODE_EXTRA_CA_CERTS, set by globalSetup), and from configuration.
 */
import { ClientSecretCredential } from "@azure/identity"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type RunningEmulator, startEmulator, type TestCa } from "@meeting-artifacts/graph-emulator"
import * as Chunk from "effect/Chunk"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { GraphClient } from "../src/index.js"
import { MEETINGS, tenant, WINDOW } from "./helpers.js"

const ca = JSON.parse(process.env.GRAPH_EMULATOR_TEST_CA!) as TestCa
let emu: RunningEmulator

beforeAll(async () => {
  emu = await startEmulator({ fixture: tenant(), tokenEndpoint: { ca }, tokenTtlSeconds: 3600 })
})
afterAll(() => emu?.close())

const credential = (secret = emu.authority!.clientSecret) =>
  new ClientSecretCredential(emu.authority!.tenantId, emu.authority!.clientId, secret, {
    authorityHost: emu.authority!.authorityHost,
    disableInstanceDiscovery: true
  })

const listAll = Effect.flatMap(GraphClient, (api) => Stream.runCollect(api.getAllRecordings(WINDOW)))

describe("credentials", () => {
  it.live("a real ClientSecretCredential: tokens from the token endpoint, fetched once and cached across calls", () =>
    Effect.gen(function*() {
      emu.resetCounters()
      const [a, b] = yield* Effect.provide(
        Effect.all([listAll, listAll]),
        GraphClient.layer({ baseUrl: emu.baseUrl, credential: credential() })
      )
      expect(Chunk.size(a)).toBe(MEETINGS)
      expect(Chunk.size(b)).toBe(MEETINGS)
      expect(emu.counters().tokensIssued).toBe(1)
    }))

  it.live("a wrong client secret → Unauthorized naming Entra's error, never the secret", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(
        Effect.provide(
          listAll,
          GraphClient.layer({ baseUrl: emu.baseUrl, credential: credential("wrong-secret-value") })
        )
      )
      expect(e._tag).toBe("Unauthorized")
      expect(e.message).toMatch(/AADSTS7000215/)
      expect(e.message).not.toContain("wrong-secret-value")
      expect(e.message).not.toContain(emu.authority!.clientSecret)
    }))

  it.live("layerConfig reads GRAPH_BASE_URL and GRAPH_ACCESS_TOKEN", () =>
    Effect.gen(function*() {
      const config = ConfigProvider.fromMap(
        new Map([["GRAPH_BASE_URL", emu.baseUrl], ["GRAPH_ACCESS_TOKEN", emu.accessToken]])
      )
      const recs = yield* Effect.provide(
        listAll,
        GraphClient.layerConfig().pipe(Layer.provide(Layer.setConfigProvider(config)))
      )
      expect(Chunk.size(recs)).toBe(MEETINGS)
    }))

  it.live("layerConfig resolves AZURE_* like the CLI: a client secret at AZURE_AUTHORITY_HOST, from the ConfigProvider", () =>
    Effect.gen(function*() {
      emu.resetCounters()
      const config = ConfigProvider.fromMap(
        new Map([
          ["GRAPH_BASE_URL", emu.baseUrl],
          ["AZURE_TENANT_ID", emu.authority!.tenantId],
          ["AZURE_CLIENT_ID", emu.authority!.clientId],
          ["AZURE_CLIENT_SECRET", emu.authority!.clientSecret],
          ["AZURE_AUTHORITY_HOST", emu.authority!.authorityHost]
        ])
      )
      const recs = yield* Effect.provide(
        listAll,
        GraphClient.layerConfig().pipe(Layer.provide(Layer.setConfigProvider(config)))
      )
      expect(Chunk.size(recs)).toBe(MEETINGS)
      expect(emu.counters().tokensIssued).toBe(1)
    }))

  it.live("layerConfig with a set-but-empty GRAPH_ACCESS_TOKEN fails with a ConfigError before any request", () =>
    Effect.gen(function*() {
      emu.resetCounters()
      const config = ConfigProvider.fromMap(new Map([["GRAPH_BASE_URL", emu.baseUrl], ["GRAPH_ACCESS_TOKEN", ""]]))
      const e = yield* Effect.flip(
        Effect.provide(listAll, GraphClient.layerConfig().pipe(Layer.provide(Layer.setConfigProvider(config))))
      )
      expect("_op" in e && e._op).toBe("InvalidData")
      expect(String(e)).toMatch(/GRAPH_ACCESS_TOKEN is set but empty/)
      expect(emu.counters().total).toBe(0)
    }))

  it.live("an invalid base URL fails the layer with a typed BadRequest", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(
        Effect.provide(listAll, GraphClient.layer({ baseUrl: "graph.microsoft.com/v1.0", credential: credential() }))
      )
      expect(e._tag).toBe("BadRequest")
      expect(e.message).toMatch(/baseUrl is not an absolute URL/)
    }))
})
