import { CallRecording, CallTranscript } from "@meeting-artifacts/api"
import { ArtifactSet, Cue } from "@meeting-artifacts/correlate"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { ArtifactSetWrite, SetFile } from "../../src/index.js"

export const tempDir = (label = "ma-sinks-"): string => fs.mkdtempSync(path.join(os.tmpdir(), label))

export const recording = (id: string, createdDateTime = "2026-03-02T10:00:00.1234567Z") =>
  new CallRecording({
    id,
    meetingId: "m1",
    callId: "call-1",
    contentCorrelationId: `cc-${id}`,
    createdDateTime,
    endDateTime: "2026-03-02T11:00:00.0000000Z"
  })

export const transcript = (id: string, createdDateTime = "2026-03-02T10:00:05.0000000Z") =>
  new CallTranscript({
    id,
    meetingId: "m1",
    callId: "call-1",
    contentCorrelationId: `cc-${id}`,
    createdDateTime,
    endDateTime: "2026-03-02T11:00:00.0000000Z"
  })

export const makeSet = (
  meetingId: string,
  rec: string | null,
  tr: string | null,
  options: { organizerId?: string; date?: string } = {}
) =>
  new ArtifactSet({
    meetingId,
    organizerId: options.organizerId ?? "org-1",
    contentCorrelationId: rec && tr ? `cc-${meetingId}` : null,
    match: rec && tr ? "contentCorrelationId" : "none",
    recording: rec === null ? null : recording(rec, options.date ? `${options.date}T10:00:00Z` : undefined),
    transcript: tr === null ? null : transcript(tr, options.date ? `${options.date}T10:00:05Z` : undefined)
  })

export const cues = (n: number, prefix = "line") =>
  Array.from(
    { length: n },
    (_, i) =>
      new Cue({
        id: `c${i}`,
        startMs: i * 1000,
        endMs: i * 1000 + 900,
        speaker: i % 2 ? "Ana" : null,
        text: `${prefix} ${i}`
      })
  )

const file = (p: string, contentType: string | null): SetFile => ({
  path: p,
  bytes: 10,
  sha256: "0".repeat(64),
  contentType
})

export const setWrite = (
  set: ArtifactSet,
  nCues = 3,
  extra: Partial<ArtifactSetWrite> = {}
): ArtifactSetWrite => ({
  set,
  recording: set.recording ? file(`r/${set.recording.id}.mp4`, "video/mp4") : null,
  transcript: set.transcript ? file(`t/${set.transcript.id}.vtt`, "text/vtt") : null,
  cues: set.transcript ? cues(nCues) : [],
  ...extra
})
