/**
 * The one credential resolution (CLI and GraphClient.layerConfig). Credentials are only constructed
 * here, never asked for a token: nothing in this file can reach an Entra or managed-identity endpoint.
 */
import { ClientCertificateCredential, ClientSecretCredential, DefaultAzureCredential } from "@azure/identity"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { GraphCredentials } from "../src/index.js"

const resolve = (env: Record<string, string>) => GraphCredentials.fromEnv(env)

describe("GraphCredentials.fromEnv", () => {
  it.effect("prefers GRAPH_ACCESS_TOKEN, trimmed and kept redacted", () =>
    Effect.gen(function*() {
      const r = yield* resolve({
        GRAPH_ACCESS_TOKEN: "  tok-123\n",
        AZURE_TENANT_ID: "t",
        AZURE_CLIENT_ID: "c",
        AZURE_CLIENT_SECRET: "s"
      })
      expect(Redacted.isRedacted(r.credential)).toBe(true)
      expect(Redacted.value(r.credential as Redacted.Redacted<string>)).toBe("tok-123")
      expect(String(r.credential)).not.toContain("tok-123")
      expect(r.description).toBe("static token from GRAPH_ACCESS_TOKEN")
      expect(r.scope).toBeUndefined()
    }))

  it.effect("a client secret credential when tenant, client and secret are set; the description names no secret", () =>
    Effect.gen(function*() {
      const r = yield* resolve({
        AZURE_TENANT_ID: "t",
        AZURE_CLIENT_ID: "c",
        AZURE_CLIENT_SECRET: "very-secret",
        GRAPH_SCOPE: "api://x/.default"
      })
      expect(r.credential).toBeInstanceOf(ClientSecretCredential)
      expect(r.description).toBe("client secret for app c in tenant t")
      expect(`${r.description} ${String(r.scope)}`).not.toContain("very-secret")
      expect(r.scope).toBe("api://x/.default")
    }))

  it.effect("a certificate credential when a certificate path is set", () =>
    Effect.gen(function*() {
      const r = yield* resolve({
        AZURE_TENANT_ID: "t",
        AZURE_CLIENT_ID: "c",
        AZURE_CLIENT_CERTIFICATE_PATH: "/nonexistent.pem"
      })
      expect(r.credential).toBeInstanceOf(ClientCertificateCredential)
    }))

  it.effect("else DefaultAzureCredential, naming the authority host", () =>
    Effect.gen(function*() {
      const r = yield* resolve({ AZURE_AUTHORITY_HOST: "https://login.microsoftonline.us" })
      expect(r.credential).toBeInstanceOf(DefaultAzureCredential)
      expect(r.description).toContain("https://login.microsoftonline.us")
    }))

  it.effect("a set-but-empty variable is a ConfigError naming it, not a fall-through to the next credential", () =>
    Effect.gen(function*() {
      for (
        const name of [
          "GRAPH_ACCESS_TOKEN",
          "AZURE_CLIENT_SECRET",
          "AZURE_TENANT_ID",
          "AZURE_AUTHORITY_HOST",
          "GRAPH_SCOPE"
        ]
      ) {
        const e = yield* Effect.flip(resolve({ AZURE_TENANT_ID: "t", AZURE_CLIENT_ID: "c", [name]: "  " }))
        expect(e._op).toBe("InvalidData")
        expect(String(e)).toContain(`${name} is set but empty`)
      }
    }))

  it.effect("a token with a line break or control character inside is a ConfigError that does not echo it", () =>
    Effect.gen(function*() {
      for (const token of ["abc\ndef", "abc def", "abc\u0007"]) {
        const e = yield* Effect.flip(resolve({ GRAPH_ACCESS_TOKEN: token }))
        expect(String(e)).toMatch(/GRAPH_ACCESS_TOKEN contains whitespace or a control character/)
        expect(String(e)).not.toContain("abc")
      }
    }))

  it.effect("AZURE_AUTHORITY_HOST must be an https URL", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(resolve({ AZURE_AUTHORITY_HOST: "http://login.example" }))
      expect(String(e)).toMatch(/AZURE_AUTHORITY_HOST must be an https:\/\/ URL/)
    }))
})
