/**
 * Auth without a static token: `sync` gets its token from @azure/identity
 * (ClientSecretCredential from AZURE_TENANT_ID / AZURE_CLIENT_ID /
 * AZURE_CLIENT_SECRET) at the authority named by AZURE_AUTHORITY_HOST — here
 * the emulator's HTTPS Entra-compatible token endpoint, trusted through
 * NODE_EXTRA_CA_CERTS. A wrong secret is fatal (exit 2) and never printed.
 */
import { type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, expectedArtifacts, syncArgs, runCli, tempDir, verifyOutput } from "./helpers.js"

describe("sync with @azure/identity and AZURE_AUTHORITY_HOST", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 2, seed: 9, recordingBytes: 8192, cues: [2, 4] },
      tokenEndpoint: true
    })
  })
  afterAll(() => emu?.close())

  const env = (secret: string) => {
    const a = emu.authority!
    return cleanEnv({
      AZURE_TENANT_ID: a.tenantId,
      AZURE_CLIENT_ID: a.clientId,
      AZURE_CLIENT_SECRET: secret,
      AZURE_AUTHORITY_HOST: a.authorityHost,
      NODE_EXTRA_CA_CERTS: a.caFile
    })
  }
  const args = (out: string) => [
    ...syncArgs(emu, out)
  ]

  it("exports everything with a client secret credential", async () => {
    const out = path.join(tempDir(), "out")
    const r = await runCli(args(out), { env: env(emu.authority!.clientSecret) })
    expect(r.code, r.stderr).toBe(0)
    expect(verifyOutput(out, expectedArtifacts(emu.fixture))).toEqual([])
    expect(r.stderr + r.stdout).not.toContain(emu.authority!.clientSecret)
    expect(emu.counters().tokensIssued).toBeGreaterThan(0)
  })

  it("a wrong client secret is fatal: exit 2, one line, secret not printed", async () => {
    const out = path.join(tempDir(), "out")
    const wrong = "definitely-the-wrong-secret-value"
    const r = await runCli(args(out), { env: env(wrong) })
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr + r.stdout).not.toContain(wrong)
    expect(r.stderr.trim().split("\n").at(-1)).toMatch(/AZURE_CLIENT_SECRET|credential|token/i)
  })
})
