/**
 * Alignment: cue times are offsets from the start of the transcript. Placed
 * on the recording's timeline they are shifted by
 * `transcript.createdDateTime - recording.createdDateTime`, which is negative
 * when transcription started before the recording (then early cues have
 * negative recording offsets: they were said before the video begins).
 * Timestamps are compared in 100 ns ticks, so 7-digit fractions are exact.
 */
import type { CallRecording, CallTranscript } from "@meeting-artifacts/api"
import type { ArtifactSet } from "./ArtifactSet.js"
import { diffGraphDateTimeMs, parseGraphInstant } from "./GraphDateTime.js"

type Timed = { readonly createdDateTime?: string | null | undefined }

/**
 * Milliseconds to add to a transcript offset to get a recording offset
 * (`transcript.createdDateTime - recording.createdDateTime`), or undefined
 * when either time is unknown.
 */
export const recordingOffsetMs = (
  transcript: Timed | null | undefined,
  recording: Timed | null | undefined
): number | undefined => diffGraphDateTimeMs(transcript?.createdDateTime, recording?.createdDateTime)

const pad = (n: number, w: number): string => String(n).padStart(w, "0")

/** `createdDateTime + ms` as an ISO timestamp with 7 fractional digits (UTC), or null if the base is unknown. */
export const addMs = (dateTime: string | null | undefined, ms: number): string | null => {
  const base = parseGraphInstant(dateTime)
  if (base === undefined) return null
  const totalTicks = base.ticks + Math.round(ms * 10_000)
  const seconds = base.seconds + Math.floor(totalTicks / 10_000_000)
  const ticks = ((totalTicks % 10_000_000) + 10_000_000) % 10_000_000
  const d = new Date(seconds * 1000)
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T` +
    `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(ticks, 7)}Z`
}

export interface Aligned<C> {
  readonly cue: C
  /** Offsets from the start of the transcript (the cue's own times). */
  readonly transcriptStartMs: number
  readonly transcriptEndMs: number
  /** Offsets into the recording; null without both createdDateTimes. May be negative. */
  readonly recordingStartMs: number | null
  readonly recordingEndMs: number | null
  /** Wall-clock times, from the transcript's createdDateTime; null when unknown. */
  readonly startDateTime: string | null
  readonly endDateTime: string | null
}

export interface AlignTo {
  readonly transcript?: Pick<CallTranscript, "createdDateTime"> | null | undefined
  readonly recording?: Pick<CallRecording, "createdDateTime"> | null | undefined
}

/** Places cues (or utterances) on the transcript's, the recording's and the wall-clock timeline. */
export const align = <C extends { readonly startMs: number; readonly endMs: number }>(
  cues: ReadonlyArray<C>,
  to: AlignTo | ArtifactSet
): Array<Aligned<C>> => {
  const offset = recordingOffsetMs(to.transcript, to.recording)
  const created = to.transcript?.createdDateTime
  return cues.map((cue) => ({
    cue,
    transcriptStartMs: cue.startMs,
    transcriptEndMs: cue.endMs,
    recordingStartMs: offset === undefined ? null : cue.startMs + offset,
    recordingEndMs: offset === undefined ? null : cue.endMs + offset,
    startDateTime: addMs(created, cue.startMs),
    endDateTime: addMs(created, cue.endMs)
  }))
}
