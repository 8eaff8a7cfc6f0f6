/**
 * One sync-like run of the sink model test over a tenant: correlate its
 * artifacts (the real `correlate`), then for each set, in the pipeline's
 * order, write the content files, upsert the manifest line and write the set
 * to every record sink; run records before and after. Each of those is one
 * "write"; `killAfter` SIGKILLs the process right after that many writes
 * (only ever used in a child process, see `fixtures/model-run.ts`).
 */
import { CallRecording, CallTranscript } from "@meeting-artifacts/api"
import { correlate, Cue } from "@meeting-artifacts/correlate"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import { FileSystemSink, Layout, makeRecordSinks, Manifest, parseSinkSpecs, type SetFile } from "../../src/index.js"

export interface TenantArtifact {
  readonly id: string
  readonly cc: string | null
  readonly start: string
  readonly end: string
}

export interface TenantTranscript extends TenantArtifact {
  readonly cues: number
}

export interface TenantMeeting {
  readonly id: string
  readonly organizerId: string
  readonly recordings: Array<TenantArtifact>
  readonly transcripts: Array<TenantTranscript>
}

export interface RunPlan {
  readonly out: string
  /** `--sink` specs. */
  readonly sinks: ReadonlyArray<string>
  readonly runId: string
  readonly tenant: ReadonlyArray<TenantMeeting>
  readonly killAfter: number | null
}

/** The correlated sets of a tenant (per organizer, as the pipeline does). */
export const tenantSets = (tenant: ReadonlyArray<TenantMeeting>) =>
  [...new Set(tenant.map((m) => m.organizerId))].sort().flatMap((organizerId) => {
    const meetings = tenant.filter((m) => m.organizerId === organizerId)
    return correlate(
      meetings.flatMap((m) =>
        m.recordings.map((r) =>
          new CallRecording({
            id: r.id,
            meetingId: m.id,
            contentCorrelationId: r.cc,
            createdDateTime: r.start,
            endDateTime: r.end
          })
        )
      ),
      meetings.flatMap((m) =>
        m.transcripts.map((t) =>
          new CallTranscript({
            id: t.id,
            meetingId: m.id,
            contentCorrelationId: t.cc,
            createdDateTime: t.start,
            endDateTime: t.end
          })
        )
      ),
      { organizerId }
    )
  })

export const cueCountOf = (tenant: ReadonlyArray<TenantMeeting>, transcriptId: string): number =>
  tenant.flatMap((m) => m.transcripts).find((t) => t.id === transcriptId)!.cues

const cuesFor = (n: number) =>
  Array.from(
    { length: n },
    (_, i) => new Cue({ id: `c${i}`, startMs: i * 1000, endMs: i * 1000 + 900, speaker: "Ana", text: `line ${i}` })
  )

const vttOf = (n: number) =>
  "WEBVTT\n\n" +
  Array.from({ length: n }, (_, i) => `c${i}\n00:00:0${i % 10}.000 --> 00:00:0${i % 10}.900\n<v Ana>line ${i}</v>\n`)
    .join("\n")

const bytes = (s: string) => new TextEncoder().encode(s)

/** How many writes `runPlan` makes for a tenant with `sinks` record sinks (what `killAfter` counts). */
export const writesOf = (tenant: ReadonlyArray<TenantMeeting>, sinks: number): number =>
  2 * sinks + 1 + tenantSets(tenant).reduce(
    (n, s) => n + (s.recording === null ? 0 : 1) + (s.transcript === null ? 0 : 1) + 1 + sinks,
    0
  )

export const runPlan = (plan: RunPlan) =>
  Effect.scoped(Effect.gen(function*() {
    let writes = 0
    const wrote = Effect.sync(() => {
      if (plan.killAfter !== null && ++writes >= plan.killAfter) process.kill(process.pid, "SIGKILL")
    })
    const specs = yield* Either.match(parseSinkSpecs(plan.sinks), { onLeft: Effect.die, onRight: Effect.succeed })
    const sinks = yield* makeRecordSinks(specs)
    const manifest = yield* Manifest.make(plan.out)
    const run = {
      runId: plan.runId,
      windowFrom: "2026-03-01T00:00:00Z",
      windowTo: "2026-04-01T00:00:00Z",
      organizers: ["org-1", "org-2"],
      startedAt: new Date().toISOString(),
      endedAt: null,
      status: "running" as const,
      counts: {}
    }
    for (const sink of sinks) yield* Effect.zipRight(sink.writeRun(run), wrote)
    const sets = tenantSets(plan.tenant)
    for (const set of sets) {
      let recording: SetFile | null = null
      let transcript: SetFile | null = null
      const n = set.transcript === null ? 0 : cueCountOf(plan.tenant, set.transcript.id)
      if (set.recording !== null) {
        const path = Layout.recordingPath(set.organizerId, set.meetingId, set.recording.id, "video/mp4")
        const w = yield* FileSystemSink.writeContent(
          plan.out,
          path,
          Stream.make(bytes(`recording ${set.recording.id}\n`.repeat(50)))
        )
        recording = { ...w, contentType: "video/mp4" }
        yield* wrote
      }
      if (set.transcript !== null) {
        const path = Layout.transcriptPath(set.organizerId, set.meetingId, set.transcript.id)
        const w = yield* FileSystemSink.writeContent(plan.out, path, Stream.make(bytes(vttOf(n))))
        transcript = { ...w, contentType: "text/vtt" }
        yield* wrote
      }
      yield* manifest.upsert(Manifest.entryFromSet(set, {
        recording: recording === null ? null : { ...recording, contentType: "video/mp4" },
        transcript: transcript === null ? null : { ...transcript, cues: n }
      }))
      yield* wrote
      for (const sink of sinks) {
        yield* sink.writeSet({ set, recording, transcript, cues: cuesFor(n), runId: plan.runId, root: plan.out })
        yield* wrote
      }
    }
    yield* manifest.flush
    yield* wrote
    const ended = {
      ...run,
      endedAt: new Date().toISOString(),
      status: "succeeded" as const,
      counts: { sets: sets.length }
    }
    for (const sink of sinks) yield* Effect.zipRight(sink.writeRun(ended), wrote)
  }))
