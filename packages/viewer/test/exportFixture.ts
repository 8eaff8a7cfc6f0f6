/**
 * Builds small exports on disk in the shape sync writes (manifest.jsonl through
 * sinks' formatter, failures.jsonl, content files, runs in a real checkpoint store).
 */
import type { Failures as FailuresNs } from "@meeting-artifacts/sinks"
import { CheckpointStore, Failures, Manifest } from "@meeting-artifacts/sinks"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"

export const fixturesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures")
export const fixtureMp4 = path.join(fixturesDir, "meeting.mp4")
export const fixtureVtt = path.join(fixturesDir, "meeting.vtt")

export const tempDir = (prefix = "ma-view-"): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex")

export interface SetSpec {
  /** An ad hoc call's id when `source` is `adhocCall`. */
  readonly meetingId: string
  readonly source?: "adhocCall"
  readonly organizerId?: string
  readonly match?: "contentCorrelationId" | "time-overlap" | "none"
  /** Content of the recording, or a path to write into the manifest as is (no file written). */
  readonly recording?: {
    readonly id: string
    readonly data?: Buffer
    readonly path?: string
    readonly contentType?: string
  } | null
  readonly transcript?: { readonly id: string; readonly vtt: string } | null
  readonly start?: string
}

const at = (start: string, plusMs: number) => new Date(Date.parse(start) + plusMs).toISOString()

/** Write the sets into `out` (a fresh folder), the way sync lays them out. */
export const writeExport = (
  out: string,
  sets: ReadonlyArray<SetSpec>,
  failures: ReadonlyArray<FailuresNs.FailureRecord> = []
) => {
  const lines: Array<string> = []
  sets.forEach((s, i) => {
    const start = s.start ?? at("2026-03-02T09:00:00.000Z", i * 3_600_000)
    const dir = path.join(out, "org", `m${i}`)
    fs.mkdirSync(dir, { recursive: true })
    let recording: Manifest.ManifestRecording | null = null
    if (s.recording) {
      let rel = s.recording.path
      const data = s.recording.data ?? Buffer.alloc(0)
      if (rel === undefined) {
        rel = `org/m${i}/recording.mp4`
        fs.writeFileSync(path.join(out, rel), data)
      }
      recording = {
        id: s.recording.id,
        createdDateTime: start,
        endDateTime: at(start, 6_000),
        path: rel,
        bytes: data.length,
        sha256: sha(data),
        contentType: s.recording.contentType ?? "video/mp4"
      }
    }
    let transcript: Manifest.ManifestTranscript | null = null
    if (s.transcript) {
      const rel = `org/m${i}/transcript.vtt`
      const data = Buffer.from(s.transcript.vtt, "utf8")
      fs.writeFileSync(path.join(out, rel), data)
      transcript = {
        id: s.transcript.id,
        createdDateTime: start,
        endDateTime: at(start, 6_000),
        path: rel,
        bytes: data.length,
        sha256: sha(data),
        cues: (s.transcript.vtt.match(/-->/g) ?? []).length
      }
    }
    lines.push(Manifest.formatEntry({
      meetingId: s.meetingId,
      ...(s.source !== undefined ? { source: s.source } : {}),
      organizerId: s.organizerId ?? "organizer-1",
      contentCorrelationId: recording && transcript ? `corr-${i}` : null,
      match: s.match ?? (recording && transcript ? "contentCorrelationId" : "none"),
      recording,
      transcript
    }))
  })
  fs.writeFileSync(path.join(out, Manifest.MANIFEST_FILE), lines.join("\n") + "\n")
  if (failures.length > 0) {
    fs.writeFileSync(path.join(out, Failures.FAILURES_FILE), failures.map(Failures.formatFailure).join("\n") + "\n")
  }
}

/** Record runs in the export's real checkpoint store (SQLite in the state folder). */
export const recordRuns = (
  out: string,
  runs: ReadonlyArray<{ readonly counts: Record<string, number>; readonly status?: CheckpointStore.RunStatus }>,
  statePath = path.join(out, ".meeting-artifacts", "state.sqlite")
) =>
  Effect.runPromise(
    Effect.scoped(Effect.gen(function*() {
      const store = yield* CheckpointStore.makeSqlite(statePath)
      for (const r of runs) {
        const run = yield* store.startRun({
          windowFrom: "2026-03-01T00:00:00Z",
          windowTo: "2026-03-31T00:00:00Z",
          organizers: ["organizer-1"]
        })
        yield* store.finishRun(run.runId, { status: r.status ?? "succeeded", counts: r.counts })
      }
    }))
  )
