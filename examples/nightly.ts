/**
 * Example 2 — a nightly incremental job into SQLite and Parquet.
 *
 * Each night resumes from the delta links the previous night stored, so only
 * new recordings and transcripts are fetched (and paid for). Set metadata,
 * transcript cues and run records are upserted into a SQLite database and a
 * date-partitioned Parquet dataset next to the files, ready for a data
 * platform. Re-running a night upserts instead of duplicating.
 *
 * Against a real tenant: set ORGANIZERS (comma-separated) and SYNC_FROM, and
 * the credential as the CLI takes it (GRAPH_ACCESS_TOKEN, or AZURE_* for
 * @azure/identity: `GraphCredentials.fromEnv`), optionally GRAPH_BASE_URL. Without them this runs two "nights" against the bundled
 * emulator, adding a recording in between.
 *
 *   pnpm --filter @meeting-artifacts/examples nightly [out-dir]
 */
import { DEFAULT_BASE_URL, type GraphCredential, GraphCredentials } from "@meeting-artifacts/api"
import { type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import { sync, syncLayer } from "@meeting-artifacts/pipeline"
import { parseSinkSpecs } from "@meeting-artifacts/sinks"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as path from "node:path"

const out = path.resolve(process.argv[2] ?? "out-nightly")
const specs = parseSinkSpecs([`sqlite:${path.join(out, "artifacts.sqlite")}`, `parquet:${path.join(out, "parquet")}`])
if (Either.isLeft(specs)) throw specs.left

const night = (
  target: { baseUrl: string; credential: GraphCredential; organizers: ReadonlyArray<string>; from: string }
) =>
  Effect.runPromise(
    sync({
      organizers: target.organizers,
      from: target.from,
      // The delta call only takes a start; the end bounds what this job keeps.
      to: "2100-01-01T00:00:00Z",
      out,
      incremental: true
    }).pipe(
      Effect.provide(syncLayer({
        out,
        sinks: specs.right,
        graph: { baseUrl: target.baseUrl, credential: target.credential }
      }))
    )
  )

const report = (label: string, s: Awaited<ReturnType<typeof night>>) =>
  console.log(JSON.stringify({
    night: label,
    sets: s.sets,
    downloaded: s.recordings.downloaded + s.transcripts.downloaded,
    alreadyThere: s.recordings.skipped + s.transcripts.skipped,
    failures: s.failures,
    cost: s.cost.total
  }))

if (process.env.ORGANIZERS && process.env.SYNC_FROM) {
  report(
    "tonight",
    await night({
      baseUrl: process.env.GRAPH_BASE_URL ?? DEFAULT_BASE_URL,
      credential: (await Effect.runPromise(GraphCredentials.fromEnv())).credential,
      organizers: process.env.ORGANIZERS.split(",").map((s) => s.trim()).filter(Boolean),
      from: process.env.SYNC_FROM
    })
  )
} else {
  let emu: RunningEmulator | undefined
  try {
    emu = await startEmulator({
      generate: { organizers: 2, meetingsPerOrganizer: 3, seed: 7, recordingBytes: [8192, 65536] }
    })
    const target = {
      baseUrl: emu.baseUrl,
      credential: Redacted.make(emu.accessToken),
      organizers: emu.fixture.users.map((u) => u.id),
      from: "2024-01-01T00:00:00Z"
    }
    report("1", await night(target))
    // During the day a new meeting is recorded.
    const meeting = emu.fixture.meetings[0]!
    emu.addRecording(meeting.id, {
      id: "nightly-example-new-recording",
      contentCorrelationId: "0b0e6f8e-5f4c-4b7a-9d55-000000000001",
      createdDateTime: "2024-02-01T09:00:00.0000000Z",
      endDateTime: "2024-02-01T09:45:00.0000000Z",
      content: { bytes: 12_345, seed: 5 }
    })
    report("2", await night(target))
  } finally {
    await emu?.close()
  }
}
console.log(`SQLite: ${path.join(out, "artifacts.sqlite")}\nParquet: ${path.join(out, "parquet")}`)
