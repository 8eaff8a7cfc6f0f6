/**
 * Bulk content: the real CLI `sync` of 4 recordings of 256 MiB at `--concurrency 4` against the
 * emulator, next to curl fetching the same 4 URLs in parallel to disk (same bearer token, given on
 * stdin), alternating, in the same run. Goals: sync throughput >= 0.7x curl's, sync peak RSS <= 150 MB.
 *
 * Throughput is the bytes of all recordings over the wall time of each whole process (start,
 * discovery, manifest and checkpoint included for sync; nothing but the transfer for curl); sync's own
 * `elapsedMs` (from `--json`) is shown beside it. CPU and peak RSS of each child come from
 * `/usr/bin/time -v`. The emulator serves generated content from this process, for both.
 *
 *   pnpm bench sync-bulk [--bytes 268435456] [--recordings 4] [--rounds 2] [--concurrency 4] [--profile <dir>]
 *                        [--other <bin.js>]
 *
 * `--other <bin.js>`: another build of the CLI (say, a copy of main's `packages/cli/dist`, its `bin.js`)
 * synced right after this one in every round (curl, this, other), for an A/B in the same conditions.
 * `--profile <dir>` also writes a V8 CPU profile of each sync there (node --cpu-prof; it slows sync down).
 * The CLI bundle is rebuilt first when a source changed, so the figures are of the sources as they are.
 */
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import type { TenantFixture } from "@meeting-artifacts/graph-emulator"
import { buildCliIfStale, type ChildRun, cliBin, runBench, runCli, runMeasured, verdict } from "./internal/cli.js"
import { argValue } from "./internal/tenant.js"

const BYTES = Number(argValue("--bytes") ?? 256 * 1024 ** 2)
const RECORDINGS = Number(argValue("--recordings") ?? 4)
const ROUNDS = Number(argValue("--rounds") ?? 2)
const CONCURRENCY = Number(argValue("--concurrency") ?? 4)
const PROFILE = argValue("--profile")
const OTHER = argValue("--other")
const GOAL_RATIO = 0.7
const GOAL_MB = 150

const ORGANIZER = "0b5c6c53-7c44-4e55-9e2c-0c0b7e1e0101"
const meetingId = (i: number) => Buffer.from(`1*${ORGANIZER}*0**19:meeting_bulk${i}@thread.v2`).toString("base64")
const recordingId = (i: number) => Buffer.from(`bulk/recording-${i}`).toString("base64")

const tenant = (): TenantFixture => ({
  tenantId: "0b5c6c53-7c44-4e55-9e2c-0c0b7e1e01ff",
  users: [{ id: ORGANIZER, displayName: "Bulk Organizer" }],
  meetings: Array.from({ length: RECORDINGS }, (_, i) => ({
    id: meetingId(i),
    organizerId: ORGANIZER,
    recordings: [{
      id: recordingId(i),
      createdDateTime: `2024-01-15T0${i % 10}:00:00.0000000Z`,
      content: { bytes: BYTES, seed: 100 + i }
    }]
  }))
})

const contentUrl = (baseUrl: string, i: number) =>
  `${baseUrl}/users/${ORGANIZER}/onlineMeetings/${encodeURIComponent(meetingId(i))}/recordings/${
    encodeURIComponent(recordingId(i))
  }/content`

const curlAll = (baseUrl: string, token: string, dir: string) => {
  const lines = [
    `header = "Authorization: Bearer ${token}"`,
    "parallel",
    `parallel-max = ${CONCURRENCY}`,
    "silent",
    "show-error",
    "fail"
  ]
  for (let i = 0; i < RECORDINGS; i++) {
    lines.push(`url = "${contentUrl(baseUrl, i)}"`, `output = "${NodePath.join(dir, `r${i}.mp4`)}"`)
  }
  return runMeasured("curl", ["-K", "-"], { stdin: `${lines.join("\n")}\n` })
}

const sha256File = (file: string) =>
  new Promise<string>((resolve, reject) => {
    const hash = createHash("sha256")
    NodeFs.createReadStream(file).on("data", (c) => hash.update(c)).on("error", reject).on("end", () =>
      resolve(hash.digest("hex")))
  })

type SyncRun = ChildRun & { readonly elapsedMs: number; readonly out: string }

const main = async () => {
  const { startEmulator } = await import("@meeting-artifacts/graph-emulator")
  const emu = await startEmulator({ fixture: tenant() })
  const work = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "bench-sync-bulk-"))
  const total = BYTES * RECORDINGS
  try {
    const syncArgs = (out: string) => [
      "sync",
      "--organizer",
      ORGANIZER,
      "--from",
      "2024-01-01T00:00:00Z",
      "--to",
      "2024-02-01T00:00:00Z",
      "--out",
      out,
      "--graph-url",
      emu.baseUrl,
      "--concurrency",
      String(CONCURRENCY),
      "--json"
    ]
    // the CLI runs from its bundle: rebuilt when a source changed, then started once (not measured)
    await buildCliIfStale()
    await runCli(["--help"], emu.accessToken)
    const curlRuns: Array<ChildRun> = []
    const syncRuns: Array<SyncRun> = []
    const otherRuns: Array<SyncRun> = []
    let checked = false
    const syncOnce = async (bin: string): Promise<SyncRun> => {
      const out = NodeFs.mkdtempSync(NodePath.join(work, "sync-"))
      const s = await runCli(
        syncArgs(out),
        emu.accessToken,
        PROFILE === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", PROFILE],
        bin
      )
      if (s.code !== 0) throw new Error(`sync exited ${s.code}: ${s.stderr}`)
      const summary = JSON.parse(s.stdout.trim().split("\n").at(-1)!) as { elapsedMs: number; bytes: number }
      if (summary.bytes !== total) throw new Error(`sync downloaded ${summary.bytes} bytes, expected ${total}`)
      return { ...s, elapsedMs: summary.elapsedMs, out }
    }
    for (let round = 0; round < ROUNDS; round++) {
      const curlDir = NodeFs.mkdtempSync(NodePath.join(work, "curl-"))
      const c = await curlAll(emu.baseUrl, emu.accessToken, curlDir)
      if (c.code !== 0) throw new Error(`curl exited ${c.code}: ${c.stderr}`)
      const sizes = Array.from(
        { length: RECORDINGS },
        (_, i) => NodeFs.statSync(NodePath.join(curlDir, `r${i}.mp4`)).size
      )
      if (sizes.some((s) => s !== BYTES)) throw new Error(`curl wrote ${sizes.join(", ")} bytes`)
      curlRuns.push(c)
      // curl leaves its GiB dirty in the page cache: written back now, not during the next child's run
      execFileSync("sync")
      const s = await syncOnce(cliBin)
      const out = s.out
      syncRuns.push(s)
      if (OTHER !== undefined) {
        const o = await syncOnce(OTHER)
        NodeFs.rmSync(o.out, { recursive: true, force: true })
        otherRuns.push(o)
      }
      if (!checked) {
        // once: the files sync wrote are the bytes curl got, and the manifest's sha256 says so
        const lines = NodeFs.readFileSync(NodePath.join(out, "manifest.jsonl"), "utf8").trim().split("\n").map((l) =>
          JSON.parse(l) as { recording: { id: string; path: string; sha256: string } }
        )
        for (let i = 0; i < RECORDINGS; i++) {
          const line = lines.find((l) => l.recording.id === recordingId(i))!
          const [fromCurl, fromSync] = await Promise.all([
            sha256File(NodePath.join(curlDir, `r${i}.mp4`)),
            sha256File(NodePath.join(out, line.recording.path))
          ])
          if (fromCurl !== fromSync || fromSync !== line.recording.sha256) {
            throw new Error(`recording ${i}: content differs`)
          }
        }
        checked = true
      }
      NodeFs.rmSync(curlDir, { recursive: true, force: true })
      NodeFs.rmSync(out, { recursive: true, force: true })
    }
    const mibps = (seconds: number) => total / 1024 ** 2 / seconds
    const best = <R extends { seconds: number }>(rs: Array<R>) => rs.reduce((x, y) => (y.seconds < x.seconds ? y : x))
    const bestCurl = best(curlRuns)
    const bestSync = best(syncRuns)
    const ratio = bestCurl.seconds / bestSync.seconds
    const peak = Math.max(...syncRuns.map((r) => r.peakMb))
    console.log(
      `sync-bulk: ${RECORDINGS} x ${
        (BYTES / 1024 ** 2).toFixed(0)
      } MiB, concurrency ${CONCURRENCY}, ${ROUNDS} round(s); load: ${
        NodeOs.loadavg().map((l) => l.toFixed(2)).join(" ")
      }`
    )
    const syncLine = (s: SyncRun) =>
      `${s.seconds.toFixed(2)} s (${mibps(s.seconds).toFixed(0)} MiB/s; its elapsedMs ${
        (s.elapsedMs / 1000).toFixed(2)
      } s, cpu ${s.cpuSeconds.toFixed(2)} s (sys ${s.sysSeconds.toFixed(2)}), peak RSS ${s.peakMb.toFixed(0)} MB)`
    for (let i = 0; i < ROUNDS; i++) {
      const c = curlRuns[i]!
      console.log(
        `  round ${i + 1}: curl ${c.seconds.toFixed(2)} s (${mibps(c.seconds).toFixed(0)} MiB/s, cpu ${
          c.cpuSeconds.toFixed(2)
        } s, peak ${c.peakMb.toFixed(0)} MB); sync ${syncLine(syncRuns[i]!)}` +
          (otherRuns[i] === undefined ? "" : `; other build ${syncLine(otherRuns[i]!)}`)
      )
    }
    const ok = ratio >= GOAL_RATIO && peak <= GOAL_MB
    console.log(
      `  best: sync ${mibps(bestSync.seconds).toFixed(0)} MiB/s = ${ratio.toFixed(2)}x curl (${
        mibps(bestCurl.seconds).toFixed(0)
      } MiB/s), goal >= ${GOAL_RATIO}x;` +
        ` sync peak RSS ${peak.toFixed(0)} MB, goal <= ${GOAL_MB} MB`
    )
    if (otherRuns.length > 0) {
      const o = best(otherRuns)
      console.log(`  other build (${OTHER}): best ${(bestCurl.seconds / o.seconds).toFixed(2)}x curl`)
    }
    verdict(ok)
  } finally {
    NodeFs.rmSync(work, { recursive: true, force: true })
    await emu.close()
  }
}

runBench(main)
