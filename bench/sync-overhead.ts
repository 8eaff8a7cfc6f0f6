/**
 * Per-artifact overhead: the real CLI `sync` of >= 2,000 tiny artifacts (4 organizers x 250 meetings,
 * each a 300-byte recording + a short transcript) against the emulator without a token bucket. Goal:
 * <= 2 ms of CPU (user + sys, from `/usr/bin/time -v`) per artifact, process start excluded.
 *
 * Start is excluded by subtracting, in the same run, the CPU of the same CLI syncing a window with no
 * meeting in it (same tenant, same organizers: loading, state, discovery requests, summary). Shown
 * beside it: the dry run's per-artifact cost (discovery + checkpoint look-ups, nothing written).
 * When the CLI has a `--rate` flag it is raised out of the way (`--rate 100000`); without it the
 * client's default rate (20 requests/s) paces the run, which costs wall time, hardly CPU.
 *
 *   pnpm bench sync-overhead [--organizers 4] [--meetings 250] [--rounds 1] [--profile <dir>] [--other <entry.js>]
 *
 * `--profile <dir>` also writes a V8 CPU profile of each full sync there (node --cpu-prof).
 * `--other <entry.js>`: another build of the CLI (say, a copy of main's `packages/cli/dist`, its `bin.js`)
 * measured the same way right after this one in each round: an A/B in the same minutes.
 */
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { buildCliIfStale, type ChildRun, runBench, runCli, verdict } from "./internal/cli.js"
import { argValue, tinyArtifactsTenant } from "./internal/tenant.js"

const ORGANIZERS = Number(argValue("--organizers") ?? 4)
const MEETINGS = Number(argValue("--meetings") ?? 250)
const ROUNDS = Number(argValue("--rounds") ?? 1)
const PROFILE = argValue("--profile")
const OTHER = argValue("--other")
const GOAL_MS = 2

const main = async () => {
  const { startEmulator } = await import("@meeting-artifacts/graph-emulator")
  const emu = await startEmulator({
    generate: tinyArtifactsTenant(ORGANIZERS, MEETINGS)
  })
  // the CLI runs from its bundle: measure the sources as they are, not a bundle built before a change
  await buildCliIfStale()
  const work = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "bench-sync-overhead-"))
  try {
    const organizers = emu.fixture.users.map((u) => u.id)
    const artifacts = emu.fixture.meetings.reduce(
      (n, m) => n + (m.recordings?.length ?? 0) + (m.transcripts?.length ?? 0),
      0
    )
    const help = await runCli(["sync", "--help"], emu.accessToken)
    const rate = help.stdout.includes("--rate") ? ["--rate", "100000"] : []
    const args = (out: string, window: readonly [string, string], extra: ReadonlyArray<string> = []) => [
      "sync",
      ...organizers.flatMap((o) => ["--organizer", o]),
      "--from",
      window[0],
      "--to",
      window[1],
      "--out",
      out,
      "--graph-url",
      emu.baseUrl,
      "--json",
      ...rate,
      ...extra
    ]
    const FULL = ["2024-01-01T00:00:00Z", "2024-03-01T00:00:00Z"] as const
    const EMPTY = ["2023-01-01T00:00:00Z", "2023-01-02T00:00:00Z"] as const
    const sync = async (
      window: readonly [string, string],
      extra: ReadonlyArray<string> = [],
      flags: ReadonlyArray<string> = [],
      bin?: string
    ) => {
      const out = NodeFs.mkdtempSync(NodePath.join(work, "out-"))
      const r = await runCli(args(out, window, extra), emu.accessToken, flags, bin)
      // Each out folder stays until the bench ends (\`work\` is removed then): on ext4 without a journal
      // (this VM's root), creating a file scans past every inode of its group freed in the last minutes,
      // so deleting a sync's ~3,000 files just before the next sync made that one pay 0.1-0.3 ms of
      // system CPU per file it created: a cost of this harness, not of sync.
      if (r.code !== 0) throw new Error(`sync exited ${r.code}: ${r.stderr.slice(-2000)}`)
      const summary = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as {
        recordings: { downloaded: number }
        transcripts: { downloaded: number }
        elapsedMs: number
      }
      return {
        ...r,
        downloaded: summary.recordings.downloaded + summary.transcripts.downloaded,
        elapsedMs: summary.elapsedMs
      }
    }
    type Row = {
      empty: ChildRun
      dry: ChildRun & { downloaded: number }
      full: ChildRun & { downloaded: number; elapsedMs: number }
    }
    const measure = async (bin?: string): Promise<Row> => {
      const empty = await sync(EMPTY, [], [], bin)
      const dry = await sync(FULL, ["--dry-run"], [], bin)
      const full = await sync(FULL, [], PROFILE === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", PROFILE], bin)
      if (full.downloaded !== artifacts) throw new Error(`sync downloaded ${full.downloaded} of ${artifacts} artifacts`)
      if (dry.downloaded !== artifacts) {
        throw new Error(`the dry run planned ${dry.downloaded} of ${artifacts} artifacts`)
      }
      return { empty, dry, full }
    }
    const rows: Array<Row> = []
    const others: Array<Row> = []
    for (let round = 0; round < ROUNDS; round++) {
      rows.push(await measure())
      if (OTHER !== undefined) others.push(await measure(OTHER))
    }
    const ms = (cpu: number, base: number) => ((cpu - base) * 1000) / artifacts
    console.log(
      `sync-overhead: ${artifacts} artifacts (${ORGANIZERS} organizers x ${MEETINGS} meetings, recording + transcript each),` +
        ` ${rate.length > 0 ? "--rate 100000" : "no --rate flag in this CLI: default client rate"}; load: ${
          NodeOs.loadavg().map((l) => l.toFixed(2)).join(" ")
        }`
    )
    const line = (label: string, { dry, empty, full }: Row) =>
      console.log(
        `  ${label}: start (empty window) ${empty.cpuSeconds.toFixed(2)} s cpu; dry run ${
          dry.cpuSeconds.toFixed(2)
        } s cpu` +
          ` = ${ms(dry.cpuSeconds, empty.cpuSeconds).toFixed(2)} ms/artifact; full sync ${
            full.cpuSeconds.toFixed(2)
          } s cpu` +
          ` = ${ms(full.cpuSeconds, empty.cpuSeconds).toFixed(2)} ms/artifact, of it sys ${
            ms(full.sysSeconds, empty.sysSeconds).toFixed(2)
          } ms (wall ${full.seconds.toFixed(1)} s, peak RSS ${full.peakMb.toFixed(0)} MB)`
      )
    for (const [i, row] of rows.entries()) {
      line(`round ${i + 1}`, row)
      if (others[i] !== undefined) line(`round ${i + 1}, other build`, others[i]!)
    }
    const bestOf = (rs: ReadonlyArray<Row>) => Math.min(...rs.map((r) => ms(r.full.cpuSeconds, r.empty.cpuSeconds)))
    const best = bestOf(rows)
    console.log(`  best full sync: ${best.toFixed(2)} ms of CPU per artifact, goal <= ${GOAL_MS} ms`)
    if (others.length > 0) {
      console.log(`  best full sync of the other build (${OTHER}): ${bestOf(others).toFixed(2)} ms`)
    }
    verdict(best <= GOAL_MS)
  } finally {
    NodeFs.rmSync(work, { recursive: true, force: true })
    await emu.close()
  }
}

runBench(main)
