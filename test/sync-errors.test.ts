/**
 * What `sync` says and which exit code it returns when things go wrong:
 * bad flags (one line, exit 2), rejected tokens (exit 2 with the Graph code
 * and request-id), a tenant without an application access policy (exit 2
 * with the admin's fix), a 402 (exit 2, billing), a 404 on one artifact
 * (dead-lettered in failures.jsonl, the rest exported, exit 1), and ids that
 * try to escape `<out>`.
 */
import { type RunningEmulator, startEmulator, type TenantFixture } from "@meeting-artifacts/graph-emulator"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  cleanEnv,
  expectedArtifacts,
  listFiles,
  organizerArgs,
  readFailures,
  readManifest,
  runCli,
  tempDir,
  verifyOutput
} from "./helpers.js"

const WINDOW = ["--from", "2024-01-01T00:00:00Z", "--to", "2024-03-01T00:00:00Z"]
const lines = (text: string) => text.split("\n").filter((l) => l.trim() !== "")

/** A loopback server that answers every request with one Graph error. */
const errorServer = async (status: number, code: string, message: string, requestId: string) => {
  const server = http.createServer((_req, res) => {
    res.writeHead(status, { "content-type": "application/json", "request-id": requestId })
    res.end(JSON.stringify({
      error: {
        code,
        message,
        innerError: { date: "2024-01-15T00:00:00", "request-id": requestId, "client-request-id": requestId }
      }
    }))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return { baseUrl: `http://127.0.0.1:${port}/v1.0`, close: () => new Promise<void>((r) => server.close(() => r())) }
}

describe("sync: bad flags", () => {
  it("prints one line and exits 2, writing nothing", async () => {
    const root = tempDir()
    const out = path.join(root, "out")
    const cases: Array<[string, Array<string>, RegExp]> = [
      ["no flags", ["sync"], /--(out|organizer|from|to)/],
      ["from after to", [
        "sync",
        "--organizer",
        "u1",
        "--from",
        "2024-02-01T00:00:00Z",
        "--to",
        "2024-01-01T00:00:00Z",
        "--out",
        out
      ], /before/],
      [
        "not a date",
        ["sync", "--organizer", "u1", "--from", "yesterday", "--to", "2024-01-01T00:00:00Z", "--out", out],
        /--from/
      ],
      ["no organizer", ["sync", ...WINDOW, "--out", out], /--organizer/],
      [
        "bad graph url",
        ["sync", "--organizer", "u1", ...WINDOW, "--out", out, "--graph-url", "not a url"],
        /--graph-url/
      ],
      [
        "bad concurrency",
        ["sync", "--organizer", "u1", ...WINDOW, "--out", out, "--concurrency", "0"],
        /--concurrency/
      ],
      ["bad sink", ["sync", "--organizer", "u1", ...WINDOW, "--out", out, "--sink", "ftp:somewhere"], /sink/],
      ["unknown flag", ["sync", "--organizer", "u1", ...WINDOW, "--out", out, "--frobnicate"], /frobnicate/]
    ]
    const results = await Promise.all(
      cases.map(([, args]) => runCli(args, { env: cleanEnv({ GRAPH_ACCESS_TOKEN: "t" }) }))
    )
    results.forEach((r, i) => {
      const [name, , pattern] = cases[i]!
      expect(r.code, `${name}: ${r.stderr}`).toBe(2)
      expect(lines(r.stderr), name).toHaveLength(1)
      expect(r.stderr, name).toMatch(pattern)
      expect(r.stdout, name).toBe("")
    })
    expect(fs.existsSync(out)).toBe(false)
    expect(fs.readdirSync(root)).toEqual([])
    // Eight CLI processes at once: on a loaded 2-core machine they take longer than the default minute.
  }, 180_000)

  it("--help documents every flag and the exit codes", async () => {
    const r = await runCli(["sync", "--help"])
    expect(r.code).toBe(0)
    for (
      const flag of [
        "--organizer",
        "--from",
        "--to",
        "--out",
        "--graph-url",
        "--state",
        "--concurrency",
        "--sink",
        "--incremental",
        "--meeting",
        "--join-url",
        "--dry-run",
        "--metadata-content",
        "--json"
      ]
    ) {
      expect(r.stdout).toContain(flag)
    }
    expect(r.stdout).toContain("https://graph.microsoft.com/v1.0")
    // Paragraphs are wrapped at 80 columns.
    expect(r.stdout.replace(/\s+/g, " ")).toMatch(/Exit codes: 0 .*; 1 .*failures\.jsonl.*; 2 fatal/)
  })
})

describe("sync: auth and tenant-wide errors", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 2, seed: 3, recordingBytes: 4096, cues: [2, 3] }
    })
  })
  afterAll(() => emu?.close())

  it("an invalid or expired token exits 2 with the Graph code and request-id, never printing the token", async () => {
    const expired = emu.issueToken({ ttlSeconds: -120 })
    for (const token of ["not-a-real-token", expired]) {
      const out = path.join(tempDir(), "out")
      const r = await runCli([
        "sync",
        ...organizerArgs(emu.fixture),
        ...WINDOW,
        "--out",
        out,
        "--graph-url",
        emu.baseUrl
      ], {
        env: cleanEnv({ GRAPH_ACCESS_TOKEN: token })
      })
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toContain("InvalidAuthenticationToken")
      expect(r.stderr).toMatch(/request-id [0-9a-f-]{8,}/i)
      expect(r.stderr + r.stdout).not.toContain(token)
      expect(lines(r.stderr)).toHaveLength(1)
      expect(r.stderr).toMatch(/GRAPH_ACCESS_TOKEN/)
    }
  })

  it("403 without an application access policy exits 2 with the admin's fix", async () => {
    const server = await errorServer(
      403,
      "Forbidden",
      "No application access policy found for this app.",
      "4f2b4f4e-0000-4000-8000-00000000a403"
    )
    try {
      const out = path.join(tempDir(), "out")
      const r = await runCli(["sync", "--organizer", "u1", ...WINDOW, "--out", out, "--graph-url", server.baseUrl], {
        env: cleanEnv({ GRAPH_ACCESS_TOKEN: "static-token-value" })
      })
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toContain("4f2b4f4e-0000-4000-8000-00000000a403")
      expect(r.stderr).toContain("New-CsApplicationAccessPolicy")
      expect(r.stderr).toContain("Grant-CsApplicationAccessPolicy")
      expect(lines(r.stderr)).toHaveLength(1)
      expect(r.stderr).not.toContain("static-token-value")
    } finally {
      await server.close()
    }
  })

  it("402 (metered API without billing) exits 2 and says so", async () => {
    const server = await errorServer(402, "PaymentRequired", "Payment Required", "4f2b4f4e-0000-4000-8000-00000000a402")
    try {
      const out = path.join(tempDir(), "out")
      const r = await runCli(["sync", "--organizer", "u1", ...WINDOW, "--out", out, "--graph-url", server.baseUrl], {
        env: cleanEnv({ GRAPH_ACCESS_TOKEN: "static-token-value" })
      })
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toContain("4f2b4f4e-0000-4000-8000-00000000a402")
      expect(r.stderr).toMatch(/billing/)
    } finally {
      await server.close()
    }
  })
})

describe("sync: per-item failures and hostile ids", () => {
  it("a 404 on one artifact lands in failures.jsonl, the rest is exported, exit 1", async () => {
    const base = (await import("@meeting-artifacts/graph-emulator")).generateTenant({
      organizers: 1,
      meetingsPerOrganizer: 3,
      seed: 41,
      recordingBytes: 4096,
      cues: [2, 3],
      mix: { paired: 1 }
    })
    const fixture = structuredClone(base) as any
    const broken = fixture.meetings[1].recordings[0]
    // Graph lists it under a meeting that no longer resolves: its content answers 404.
    broken.extra = { meetingId: "meeting-that-expired" }
    const emu = await startEmulator({ fixture })
    try {
      const out = path.join(tempDir(), "out")
      const r = await runCli([
        "sync",
        ...organizerArgs(fixture),
        ...WINDOW,
        "--out",
        out,
        "--graph-url",
        emu.baseUrl,
        "--json"
      ], {
        env: cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
      })
      expect(r.code, r.stderr).toBe(1)
      const failures = readFailures(out)
      expect(failures).toHaveLength(1)
      expect(failures[0]).toMatchObject({ kind: "recording", id: broken.id, status: 404 })
      expect(typeof failures[0]!.requestId).toBe("string")
      expect(typeof failures[0]!.code).toBe("string")
      const expected = expectedArtifacts(fixture)
      expected.delete(`recording:${broken.id}`)
      expect(verifyOutput(out, expected)).toEqual([])
      expect(JSON.parse(r.stdout).failures).toBe(1)
    } finally {
      await emu.close()
    }
  })

  it("ids that look like paths never make it write outside --out and --state", async () => {
    const organizer = "../../organizer"
    const fixture: TenantFixture = {
      tenantId: "00000000-0000-4000-8000-000000000001",
      users: [{ id: organizer, displayName: "Evil" }],
      meetings: [
        {
          id: "../../../../escape-meeting",
          organizerId: organizer,
          startDateTime: "2024-01-20T10:00:00.0000000Z",
          endDateTime: "2024-01-20T11:00:00.0000000Z",
          recordings: [
            {
              id: "/etc/passwd",
              contentCorrelationId: "c1",
              createdDateTime: "2024-01-20T10:00:01.0000000Z",
              endDateTime: "2024-01-20T10:59:00.0000000Z",
              content: { bytes: 1000, seed: 1 }
            },
            {
              id: "../..",
              contentCorrelationId: "c2",
              createdDateTime: "2024-01-20T10:00:02.0000000Z",
              endDateTime: "2024-01-20T10:30:00.0000000Z",
              content: { bytes: 1200, seed: 2 }
            }
          ],
          transcripts: [
            {
              id: "..\\..\\..\\windows\\evil",
              contentCorrelationId: "c1",
              createdDateTime: "2024-01-20T10:00:03.0000000Z",
              endDateTime: "2024-01-20T10:59:00.0000000Z",
              content: { text: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nhi\n" }
            },
            {
              id: "CON",
              contentCorrelationId: "c2",
              createdDateTime: "2024-01-20T10:00:04.0000000Z",
              endDateTime: "2024-01-20T10:30:00.0000000Z",
              content: { text: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nyo\n" }
            }
          ]
        },
        {
          id: "/absolute/meeting",
          organizerId: organizer,
          recordings: [
            {
              id: "a/../../b%2F..%2F",
              createdDateTime: "2024-01-21T10:00:01.0000000Z",
              content: { bytes: 500, seed: 3 }
            }
          ],
          transcripts: []
        }
      ]
    }
    const emu = await startEmulator({ fixture })
    try {
      const root = tempDir()
      const out = path.join(root, "nested", "out")
      const state = path.join(root, "state", "checkpoints.sqlite")
      const r = await runCli([
        "sync",
        "--organizer",
        organizer,
        ...WINDOW,
        "--out",
        out,
        "--state",
        state,
        "--graph-url",
        emu.baseUrl
      ], {
        env: cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken }),
        cwd: root
      })
      expect(r.code, r.stderr).toBe(0)
      expect(verifyOutput(out, expectedArtifacts(fixture))).toEqual([])
      // Everything written is under root/nested/out or the --state file; nothing next to them or in the working directory.
      for (const f of listFiles(root)) {
        expect(f.startsWith("nested/out/") || f.startsWith("state/checkpoints.sqlite"), f).toBe(true)
      }
      expect(fs.existsSync(state)).toBe(true)
      expect(fs.existsSync(path.join(out, ".meeting-artifacts", "state.sqlite"))).toBe(false)
      expect(readManifest(out)).toHaveLength(3)
    } finally {
      await emu.close()
    }
  })
})

describe("sync: a Graph URL nobody answers on", () => {
  it(
    "says what it retries, gives up after the connect budget, and the summary's waits are not throttling",
    async () => {
      const closed = http.createServer()
      await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve))
      const port = (closed.address() as AddressInfo).port
      await new Promise<void>((resolve) => closed.close(() => resolve()))
      const out = path.join(tempDir(), "out")
      const r = await runCli(
        [
          "sync",
          "--organizer",
          "u1",
          ...WINDOW,
          "--out",
          out,
          "--graph-url",
          `http://127.0.0.1:${port}/v1.0`,
          "--json"
        ],
        { env: cleanEnv({ GRAPH_ACCESS_TOKEN: "t" }) }
      )
      expect(r.code, r.stderr).toBe(1)
      const retries = lines(r.stderr).filter((l) => l.startsWith("retrying "))
      expect(retries.length, r.stderr).toBeGreaterThan(0)
      for (const l of retries) {
        expect(l).toMatch(
          /^retrying \/users\/\{userId\}\/onlineMeetings\/getAll\w+\(\.\.\.\) in \d+\.\d s \(attempt \d+\): .*ECONNREFUSED/
        )
      }
      const summary = JSON.parse(r.stdout)
      expect(summary.failures).toBe(1)
      expect(summary.throttleWaitMs).toBe(0)
      expect(summary.throttleWaitMs).toBeLessThanOrEqual(summary.elapsedMs)
      // the default connect budget (GraphPolicy.connectRetryMs, 10 s of waits per request) ends the run,
      // not maxAttempts (10 attempts, ~50 s of backoff)
      const waitsPerRoute = new Map<string, number>()
      for (const l of retries) {
        const [, route, seconds] = /^retrying (\S+) in (\d+\.\d) s/.exec(l)!
        waitsPerRoute.set(route!, (waitsPerRoute.get(route!) ?? 0) + Number(seconds))
      }
      for (const waited of waitsPerRoute.values()) expect(waited).toBeLessThanOrEqual(10 + 0.05 * retries.length)
      expect(JSON.stringify(readFailures(out))).toMatch(/could not reach the server.*connectRetryMs/)
    },
    120_000
  )
})
