/**
 * A tenant-wide refusal that arrives in the middle of a run, while content is
 * downloading (not at discovery): the emulator's tenant policy is switched on
 * when the third content request of the kind arrives. The run stops with
 * exit 2 and the advice for that condition; what it leaves is consistent:
 * no partial file under a final name, every manifest line names complete
 * files (`verify` says intact), and a re-run once the tenant is fixed
 * completes the export.
 */
import {
  type RequestSeen,
  type RunningEmulator,
  startEmulator,
  type TenantPolicy
} from "@meeting-artifacts/graph-emulator"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  cleanEnv,
  expectedArtifacts,
  listFiles,
  syncArgs,
  readManifest,
  runCli,
  sha256,
  tempDir,
  verifyOutput
} from "./helpers.js"

const lines = (text: string) => text.split("\n").filter((l) => l.trim() !== "")

describe("a tenant-wide refusal during content download", () => {
  let emu: RunningEmulator
  // Switches the policy on at the third content request of the kind: some content is complete by then.
  let trigger: { readonly route: RegExp; readonly policy: TenantPolicy; seen: number } | null = null
  const onRequest = (req: RequestSeen) => {
    if (trigger !== null && trigger.route.test(req.route) && ++trigger.seen === 3) {
      emu.setPolicy(trigger.policy)
      trigger = null
    }
  }
  beforeAll(async () => {
    emu = await startEmulator({
      generate: {
        organizers: 2,
        meetingsPerOrganizer: 4,
        seed: 31,
        recordingBytes: [16 * 1024, 64 * 1024],
        cues: [2, 6]
      },
      onRequest
    })
  })
  afterAll(() => emu?.close())

  const cases: Array<[string, RegExp, TenantPolicy, RegExp]> = [
    [
      "403 no application access policy",
      /^recordingContent$/,
      { noAccessPolicy: true },
      /New-CsApplicationAccessPolicy/
    ],
    [
      "403 transcripts switched off",
      /^transcriptContent$/,
      { transcriptsDisabled: true },
      /switched off Graph access to meeting transcripts/
    ],
    ["402 metered quota used up", /Content$/, { meteredQuotaMinutes: 0 }, /billing/]
  ]

  for (const [name, route, policy, advice] of cases) {
    it(`${name}: exit 2 with the advice, nothing partial left, and a re-run after the fix completes`, async () => {
      emu.setPolicy({})
      emu.resetCounters()
      // An app-only token: the access policy applies to applications, as in Graph.
      const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.issueToken() })
      const out = path.join(tempDir(), "out")
      const args = [
        ...syncArgs(emu, out),
        "--concurrency",
        "2"
      ]
      trigger = { route, policy, seen: 0 }
      const r = await runCli(args, { env })
      expect(trigger, "the policy was switched on by a content request").toBeNull()
      expect(r.code, r.stderr).toBe(2)
      expect(r.stdout).toBe("")
      const fatal = lines(r.stderr).filter((l) => l.startsWith("meeting-artifacts sync:"))
      expect(fatal, r.stderr).toHaveLength(1)
      expect(fatal[0]).toMatch(advice)

      // What the stopped run left: only complete files under final names, each in the manifest.
      const manifest = readManifest(out)
      const named = new Set(
        manifest.flatMap((l) => [l.recording?.path, l.transcript?.path]).filter((p) => p !== undefined)
      )
      const content = listFiles(out).filter((f) =>
        !f.startsWith(".meeting-artifacts/") && f !== "manifest.jsonl" && f !== "failures.jsonl"
      )
      // Under a final name only whole artifacts (a set's line waits for both of its files, so a complete
      // recording whose transcript was refused is not in the manifest yet); temp files of interrupted
      // writes keep their temp names, which verify counts and the next sync removes.
      const whole = new Set([...expectedArtifacts(emu.fixture).values()].map((a) => a.sha256))
      for (const f of content) {
        if (path.basename(f).startsWith(".") && f.endsWith(".partial")) continue
        if (!named.has(f)) {
          expect(whole.has(sha256(fs.readFileSync(path.join(out, f)))), `${f} is not a whole artifact`).toBe(true)
        }
      }
      if (fs.existsSync(path.join(out, "manifest.jsonl"))) {
        const v = await runCli(["verify", "--out", out, "--json"], { env: cleanEnv({}) })
        expect(v.code, v.stdout + v.stderr).toBe(0)
        expect(JSON.parse(v.stdout).problems).toEqual([])
      }

      // The admin fixes the tenant; the next run exports everything.
      emu.setPolicy({})
      const again = await runCli(args, { env })
      expect(again.code, again.stderr).toBe(0)
      expect(verifyOutput(out, expectedArtifacts(emu.fixture))).toEqual([])
    })
  }
})
