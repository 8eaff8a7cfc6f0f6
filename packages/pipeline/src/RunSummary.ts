/**
 * The outcome of a sync run, and how metered minutes and their cost are counted.
 *
 * Graph meters `/content` of recordings and transcripts: $0.003 per recording
 * minute and $0.0022 per transcript minute, each artifact's duration rounded
 * down to whole minutes.
 */
export const RECORDING_USD_PER_MINUTE = 0.003
export const TRANSCRIPT_USD_PER_MINUTE = 0.0022

export interface ArtifactCounts {
  /** Seen by discovery in this run. */
  readonly discovered: number
  /** Content fetched from Graph in this run. */
  readonly downloaded: number
  /** Already complete on disk (earlier run): nothing fetched. */
  readonly skipped: number
  /** Failed for good in this run (listed in failures.jsonl). */
  readonly failed: number
}

export interface RunSummary {
  readonly runId: string
  readonly startedAt: string
  readonly finishedAt: string
  readonly elapsedMs: number
  readonly dryRun: boolean
  readonly incremental: boolean
  readonly organizers: number
  /** Artifact sets written to the manifest (and record sinks) in this run. */
  readonly sets: number
  readonly recordings: ArtifactCounts
  readonly transcripts: ArtifactCounts
  /** Content bytes downloaded in this run. */
  readonly bytes: number
  readonly requests: number
  readonly retries: number
  readonly throttleWaits: number
  readonly throttleWaitMs: number
  /** Metered minutes fetched (or, in a dry run, that would be fetched). */
  readonly recordingMinutes: number
  readonly transcriptMinutes: number
  readonly cost: {
    readonly recordings: number
    readonly transcripts: number
    readonly total: number
    readonly currency: "USD"
  }
  readonly failures: number
  readonly out: string
  readonly manifest: string
  readonly failuresFile: string
}

/** Whole minutes between two Graph timestamps, rounded down; 0 when either is missing or unparsable. */
export const meteredMinutes = (start: string | null | undefined, end: string | null | undefined): number => {
  if (start == null || end == null) return 0
  const ms = Date.parse(end) - Date.parse(start)
  return Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 60_000) : 0
}

const roundUsd = (n: number): number => Math.round(n * 1e6) / 1e6

export const meteredCost = (recordingMinutes: number, transcriptMinutes: number) => {
  const recordings = roundUsd(recordingMinutes * RECORDING_USD_PER_MINUTE)
  const transcripts = roundUsd(transcriptMinutes * TRANSCRIPT_USD_PER_MINUTE)
  return { recordings, transcripts, total: roundUsd(recordings + transcripts), currency: "USD" as const }
}

/** The CLI's exit code for a finished run: 0 everything exported, 1 some items failed for good. */
export const exitCodeOf = (summary: RunSummary): 0 | 1 => (summary.failures > 0 ? 1 : 0)
