import { ClientCertificateCredential, ClientSecretCredential, DefaultAzureCredential } from "@azure/identity"
import * as Redacted from "effect/Redacted"
import { describe, expect, it } from "vitest"
import { resolveCredential, scopeFor } from "../src/Auth.js"

describe("resolveCredential", () => {
  it("prefers GRAPH_ACCESS_TOKEN, kept redacted", () => {
    const r = resolveCredential({ GRAPH_ACCESS_TOKEN: "  tok-123 ", AZURE_TENANT_ID: "t", AZURE_CLIENT_ID: "c", AZURE_CLIENT_SECRET: "s" })
    expect(Redacted.isRedacted(r.credential)).toBe(true)
    expect(Redacted.value(r.credential as Redacted.Redacted<string>)).toBe("tok-123")
    expect(String(r.credential)).not.toContain("tok-123")
    expect(r.description).not.toContain("tok-123")
  })
  it("uses a client secret credential when tenant, client and secret are set", () => {
    const r = resolveCredential({ AZURE_TENANT_ID: "t", AZURE_CLIENT_ID: "c", AZURE_CLIENT_SECRET: "very-secret" })
    expect(r.credential).toBeInstanceOf(ClientSecretCredential)
    expect(r.description).not.toContain("very-secret")
  })
  it("uses a certificate credential when a certificate path is set", () => {
    const r = resolveCredential({ AZURE_TENANT_ID: "t", AZURE_CLIENT_ID: "c", AZURE_CLIENT_CERTIFICATE_PATH: "/nonexistent.pem" })
    expect(r.credential).toBeInstanceOf(ClientCertificateCredential)
  })
  it("falls back to DefaultAzureCredential and names the authority host", () => {
    const r = resolveCredential({ AZURE_AUTHORITY_HOST: "https://login.microsoftonline.us" })
    expect(r.credential).toBeInstanceOf(DefaultAzureCredential)
    expect(r.description).toContain("https://login.microsoftonline.us")
    expect(resolveCredential({ GRAPH_ACCESS_TOKEN: "   " }).credential).toBeInstanceOf(DefaultAzureCredential)
  })
})

describe("scopeFor", () => {
  it("asks national-cloud Graph hosts for their own scope and everything else for global Graph's", () => {
    expect(scopeFor("https://graph.microsoft.com/v1.0")).toBe("https://graph.microsoft.com/.default")
    expect(scopeFor("https://graph.microsoft.us/v1.0")).toBe("https://graph.microsoft.us/.default")
    expect(scopeFor("https://microsoftgraph.chinacloudapi.cn/v1.0")).toBe("https://microsoftgraph.chinacloudapi.cn/.default")
    expect(scopeFor("http://127.0.0.1:4000/v1.0")).toBe("https://graph.microsoft.com/.default")
  })
})
