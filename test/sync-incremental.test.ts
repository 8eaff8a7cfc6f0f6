/**
 * Incremental sync: after artifacts are added to the running emulator, a
 * second `--incremental` run (resuming from the stored delta links) fetches
 * only those, re-pairs a transcript that arrived after its recording, and a
 * third run with nothing new fetches nothing. Delta links are the output
 * folder's own: a run into another folder sharing the `--state` lists in full.
 */
import { generateTenant, type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  cleanEnv,
  type CliResult,
  addLaterMeetingArtifacts,
  expectedArtifacts,
  expectRerunFetchesNothing,
  fetched,
  type MutableFixture,
  readFailures,
  readManifest,
  runCli,
  syncArgs,
  tempDir,
  verifyOutput
} from "./helpers.js"
import { asBeforeExportScopes, withStateFile } from "./stateFile.js"

describe("sync --incremental", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({
      generate: {
        organizers: 2,
        meetingsPerOrganizer: 3,
        seed: 31,
        recordingBytes: [4096, 32 * 1024],
        cues: [2, 5],
        mix: { paired: 0.5, recordingOnly: 0.5 }
      },
      pageSize: 2
    })
  })
  afterAll(() => emu?.close())

  it("fetches only what was added since the previous run", async () => {
    const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
    const out = path.join(tempDir(), "out")
    const args = [
      ...syncArgs(emu, out),
      "--incremental",
      "--json"
    ]
    const first = await runCli(args, { env })
    expect(first.code, first.stderr).toBe(0)
    expect(verifyOutput(out, expectedArtifacts(emu.fixture))).toEqual([])

    const fixture = structuredClone(emu.fixture) as MutableFixture
    const { lonelyRecording: rec, recording, transcript } = addLaterMeetingArtifacts(emu, fixture, {
      transcript: "added/transcript+1==",
      recording: "added/recording+2==",
      seed: 99
    })

    emu.resetCounters()
    const second = await runCli(args, { env })
    expect(second.code, second.stderr).toBe(0)
    expect(Object.keys(emu.counters().contentRequests).sort()).toEqual([recording.id, transcript.id].sort())
    expect(verifyOutput(out, expectedArtifacts(fixture))).toEqual([])
    // The late transcript joined its recording's line.
    const line = readManifest(out).find((l) => l.transcript?.id === transcript.id)
    expect(line?.recording?.id).toBe(rec.id)
    expect(line?.match).toBe("contentCorrelationId")
    const summary = JSON.parse(second.stdout)
    expect(summary.recordings.downloaded + summary.transcripts.downloaded).toBe(2)

    await expectRerunFetchesNothing(emu, args, env, out, fixture)
  })
})

describe("sync --incremental into two folders sharing one --state", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 3, seed: 37, recordingBytes: [2048, 8192], cues: [2, 3] },
      pageSize: 2
    })
  })
  afterAll(() => emu?.close())

  it("lists the second folder in full instead of resuming from the first folder's delta links", async () => {
    const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
    const dir = tempDir()
    const state = path.join(dir, "shared-state.sqlite")
    const into = (out: string) => [...syncArgs(emu, out), "--incremental", "--state", state, "--json"]
    const expected = expectedArtifacts(emu.fixture)

    const a = await runCli(into(path.join(dir, "a")), { env })
    expect(a.code, a.stderr).toBe(0)
    expect(verifyOutput(path.join(dir, "a"), expected)).toEqual([])

    // Folder B has none of it yet: delta from A's links would report nothing new.
    const b = await runCli(into(path.join(dir, "b")), { env })
    expect(b.code, b.stderr).toBe(0)
    expect(verifyOutput(path.join(dir, "b"), expected)).toEqual([])
    expect(JSON.parse(b.stdout).sets).toBe(JSON.parse(a.stdout).sets)
  })
})

/**
 * What one export did never hides work from another export sharing the `--state`: a dead letter of
 * folder A is A's to retry (B completing the same artifact must not drop it), and an artifact A
 * completed is still exported into B.
 */
describe("exports into two folders sharing one --state keep their own completed items and dead letters", () => {
  /**
   * Runs `body` against a small tenant whose first recording's content is "not ready yet" (404) at its first
   * request only (the export that asks first dead-letters it; every later request gets it), with `run(out)`
   * an incremental export into `out` on one shared state file.
   */
  const withSharedState = async (
    seed: number,
    body: (t: {
      readonly run: (out: string, ...flags: ReadonlyArray<string>) => Promise<CliResult>
      readonly a: string
      readonly b: string
      readonly late: string
      readonly expected: ReturnType<typeof expectedArtifacts>
      readonly state: string
      /** The URLs of the requests the emulator answered, in order (empty it to start over). */
      readonly requested: Array<string>
    }) => Promise<void>
  ) => {
    const fixture = generateTenant({
      organizers: 1,
      meetingsPerOrganizer: 2,
      seed,
      recordingBytes: [2048, 4096],
      cues: [2, 3],
      mix: { paired: 1 }
    }) as MutableFixture
    const late = fixture.meetings[0].recordings[0]
    late.notReady = { requests: 1 }
    const requested: Array<string> = []
    const emu = await startEmulator({ fixture, pageSize: 2, onRequest: (r) => void requested.push(r.url) })
    try {
      const dir = tempDir()
      const state = path.join(dir, "shared-state.sqlite")
      const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
      await body({
        run: (out, ...flags) =>
          runCli([...syncArgs(emu, out), "--incremental", "--state", state, "--json", ...flags], { env }),
        a: path.join(dir, "a"),
        b: path.join(dir, "b"),
        late: late.id,
        expected: expectedArtifacts(emu.fixture),
        state,
        requested
      })
    } finally {
      await emu.close()
    }
  }

  it("a dead letter of folder A is retried by A after folder B exported the same artifact", () =>
    withSharedState(41, async ({ a, b, expected, late, run }) => {
      const first = await run(a)
      expect(first.code, first.stderr).toBe(1)
      expect(readFailures(a).map((f) => f.id)).toEqual([late])

      const other = await run(b)
      expect(other.code, other.stderr).toBe(0)
      expect(verifyOutput(b, expected)).toEqual([])

      // Nothing new for A's delta links: only its dead letter brings the recording back.
      const again = await run(a)
      expect(again.code, again.stderr).toBe(0)
      expect(verifyOutput(a, expected)).toEqual([])
      expect(readFailures(a)).toEqual([])
    }))

  it("an artifact folder A completed is exported into folder B too", () =>
    withSharedState(43, async ({ a, b, expected, run }) => {
      expect((await run(a)).code).toBe(1)
      const retried = await run(a)
      expect(retried.code, retried.stderr).toBe(0)
      expect(verifyOutput(a, expected)).toEqual([])

      // B's plan and B's run: every artifact is B's to fetch, none skipped as done.
      await expectEverythingFetched(run, b, expected)
    }))

  it("a dead letter from before the upgrade stops counting once the export has the artifact, and stays for the others", () =>
    withSharedState(47, async ({ a, expected, late, requested, run, state }) => {
      const first = await run(a)
      expect(first.code, first.stderr).toBe(1)
      expect(readFailures(a).map((f) => f.id)).toEqual([late])
      await asBeforeExportScopes(state)

      // The upgraded export retries the old dead letter and gets it: nothing failed, nothing left to report.
      const upgraded = await run(a)
      expect(upgraded.code, upgraded.stderr).toBe(0)
      expect(verifyOutput(a, expected)).toEqual([])
      expect(readFailures(a)).toEqual([])
      const { recordings, transcripts } = JSON.parse(upgraded.stdout)
      expect(recordings.failed + transcripts.failed).toBe(0)
      // Which export wrote it is unknown: the old dead letter stays for an export that may still lack the item.
      expect(await deadLetters(state)).toEqual([{ artifact_id: late, export_scope: "" }])

      // ... but is not this export's any more: no retry of it, nothing failed.
      requested.length = 0
      const again = await run(a)
      expect(again.code, again.stderr).toBe(0)
      const askedFor = (url: string) => [late, encodeURIComponent(late)].some((id) => url.includes(id))
      expect(requested.filter(askedFor)).toEqual([])
      expect(readFailures(a)).toEqual([])
    }))

  it("what folder A exported before the upgrade is still exported into folder B (A's files are A's)", () =>
    withSharedState(53, async ({ a, b, expected, requested, run, state }) => {
      expect((await run(a)).code).toBe(1)
      expect((await run(a)).code).toBe(0)
      expect(verifyOutput(a, expected)).toEqual([])
      // Stored by the release before export scopes: every completed row is UNSCOPED after the upgrade.
      await asBeforeExportScopes(state)

      // B's plan agrees with B's run: the old rows may be A's, and B has none of their files.
      await expectEverythingFetched(run, b, expected)
      // A has the files of its old rows: nothing fetched again there.
      requested.length = 0
      const again = await run(a)
      expect(again.code, again.stderr).toBe(0)
      expect(requested.filter((url) => url.includes("/content"))).toEqual([])
      expect(verifyOutput(a, expected)).toEqual([])
    }))
})

/** `out`'s dry run plans every artifact as a download (none skipped as done), and its run fetches them all. */
const expectEverythingFetched = async (
  run: (out: string, ...flags: ReadonlyArray<string>) => Promise<CliResult>,
  out: string,
  expected: ReturnType<typeof expectedArtifacts>
) => {
  const plan = await run(out, "--dry-run")
  expect(plan.code, plan.stderr).toBe(0)
  expect(fetched(plan)).toEqual({ downloaded: expected.size, skipped: 0 })
  const result = await run(out)
  expect(result.code, result.stderr).toBe(0)
  expect(verifyOutput(out, expected)).toEqual([])
  expect(fetched(result)).toEqual({ downloaded: expected.size, skipped: 0 })
}

const deadLetters = (file: string) =>
  withStateFile(file, (sql) => sql`SELECT artifact_id, export_scope FROM checkpoint_dead_letters ORDER BY artifact_id`)
