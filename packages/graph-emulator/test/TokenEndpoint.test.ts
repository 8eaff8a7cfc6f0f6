/**
 * A real @azure/identity ClientSecretCredential gets tokens from the emulator's HTTPS token endpoint
 * (trusting the test CA through NODE_EXTRA_CA_CERTS, set by globalSetup before this worker started).
 */
import { ClientSecretCredential } from "@azure/identity"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningEmulator, startEmulator, type TestCa } from "../src/index.js"
import { get } from "./helpers.js"

const ca = JSON.parse(process.env.GRAPH_EMULATOR_TEST_CA!) as TestCa
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe("Entra-compatible token endpoint", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 1, seed: 1 },
      tokenEndpoint: { ca },
      tokenTtlSeconds: 2
    })
  })
  afterAll(() => emu.close())

  const credential = (secret = emu.authority!.clientSecret) =>
    new ClientSecretCredential(emu.authority!.tenantId, emu.authority!.clientId, secret, {
      authorityHost: emu.authority!.authorityHost,
      disableInstanceDiscovery: true
    })

  it("issues tokens to a real ClientSecretCredential that the Graph routes accept", async () => {
    expect(emu.authority!.authorityHost).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    expect(emu.authority!.caFile).toBe(ca.caFile)
    const token = await credential().getToken("https://graph.microsoft.com/.default")
    expect(token.token.split(".")).toHaveLength(3)
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now())
    const m = emu.fixture.meetings[0]!
    const res = await get(emu, `/users/${m.organizerId}/onlineMeetings/${encodeURIComponent(m.id)}`, {
      token: token.token
    })
    expect(res.status).toBe(200)
    // an app-only token has no /me
    expect((await get(emu, `/me/onlineMeetings/${encodeURIComponent(m.id)}`, { token: token.token })).status).toBe(400)
    expect(emu.counters().tokensIssued).toBeGreaterThanOrEqual(1)
    // the token expires after tokenTtlSeconds: then 401 InvalidAuthenticationToken
    await sleep(2100)
    const expired = await get(emu, `/users/${m.organizerId}/onlineMeetings/${encodeURIComponent(m.id)}`, {
      token: token.token
    })
    expect(expired.status).toBe(401)
    expect(((await expired.json()) as any).error.code).toBe("InvalidAuthenticationToken")
  })

  it("rejects a wrong client secret like Entra does", async () => {
    await expect(credential("wrong-secret").getToken("https://graph.microsoft.com/.default")).rejects.toThrow(
      /AADSTS7000215/
    )
  })

  it("serves OIDC discovery for the tenant only", async () => {
    const ok = await fetch(`${emu.authority!.authorityHost}/${emu.tenantId}/v2.0/.well-known/openid-configuration`)
    expect(ok.status).toBe(200)
    const doc = (await ok.json()) as any
    expect(doc.token_endpoint).toBe(`${emu.authority!.authorityHost}/${emu.tenantId}/oauth2/v2.0/token`)
    const other = await fetch(
      `${emu.authority!.authorityHost}/00000000-0000-0000-0000-000000000000/v2.0/.well-known/openid-configuration`
    )
    expect(other.status).toBe(400)
  })
})
