/**
 * What a sync run exports, and their validation (shared by the CLI and library
 * callers so both reject the same inputs with the same message).
 */
import { defaultPolicy, policyValueProblem } from "@meeting-artifacts/api"
import * as Effect from "effect/Effect"
import { InvalidSyncOptions } from "./SyncError.js"

export interface SyncOptions {
  /** Organizer user ids (object ids or UPNs) whose meetings are exported. */
  readonly organizers: ReadonlyArray<string>
  /** Window start, ISO 8601 (inclusive). Required unless meetings, join URLs or ad hoc calls are listed. */
  readonly from?: string | undefined
  /**
   * Window end, ISO 8601 (exclusive). An incremental run may leave it out: the window is then open
   * (everything created since `from`), which is how `listen` catches up between runs.
   */
  readonly to?: string | undefined
  /** Export only these online meeting ids (looked up under each organizer). */
  readonly meetingIds?: ReadonlyArray<string> | undefined
  /** Export only the meetings with these join URLs. */
  readonly joinUrls?: ReadonlyArray<string> | undefined
  /**
   * Export only these ad hoc calls (1:1, group and PSTN calls; looked up under each organizer, who
   * started the call). Their lines carry `source: "adhocCall"` and the call id as `meetingId`.
   */
  readonly adhocCallIds?: ReadonlyArray<string> | undefined
  /**
   * With a window: also export every ad hoc call each organizer started in it (incremental through
   * delta like the meetings). Not combinable with meetings, join URLs or ad hoc calls listed by id.
   */
  readonly adhocCalls?: boolean | undefined
  /** Output directory: content files, manifest.jsonl, failures.jsonl. */
  readonly out: string
  /** Resume discovery from the delta links stored by the previous run. */
  readonly incremental?: boolean | undefined
  /**
   * Concurrent content downloads (metered `/content` calls); default and bounds are those of
   * `GraphPolicy.maxConcurrentDownloads` (4, 1-64).
   */
  readonly concurrency?: number | undefined
  /** Report what would be fetched and what it would cost; fetch no content, write nothing. */
  readonly dryRun?: boolean | undefined
  /**
   * Also export each transcript's `metadataContent` (per cue: speaker, spoken language, absolute
   * times) as `transcript-<id>.metadata.json` and hand it to record sinks. Metered like the transcript.
   */
  readonly metadataContent?: boolean | undefined
}

export interface ValidatedSyncOptions {
  readonly organizers: ReadonlyArray<string>
  /** Normalised to `YYYY-MM-DDTHH:MM:SS(.fff)Z`. */
  readonly from: string | null
  readonly to: string | null
  readonly meetingIds: ReadonlyArray<string>
  readonly joinUrls: ReadonlyArray<string>
  readonly adhocCallIds: ReadonlyArray<string>
  readonly adhocCalls: boolean
  readonly out: string
  readonly incremental: boolean
  readonly concurrency: number
  readonly dryRun: boolean
  readonly metadataContent: boolean
}

const isoDateTime =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i

/**
 * Parses an ISO 8601 date or date-time; a missing zone means UTC. Returns the
 * instant in Graph's literal form, or null when the text is not a real date.
 */
export const parseIsoDateTime = (text: string): string | null => {
  const m = isoDateTime.exec(text.trim())
  if (m === null) return null
  const [, y, mo, d, h = "00", mi = "00", s = "00"] = m
  const month = Number(mo), day = Number(d), hour = Number(h), minute = Number(mi), second = Number(s)
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null
  const daysInMonth = new Date(Date.UTC(Number(y), month, 0)).getUTCDate()
  if (day > daysInMonth) return null
  const hasTime = m[4] !== undefined
  const zone = m[8] === undefined || !hasTime ? "Z" : m[8]
  const fraction = m[7] === undefined ? "" : `.${m[7].slice(0, 3).padEnd(3, "0")}`
  const normalizedZone = zone.toUpperCase() === "Z"
    ? "Z"
    : zone.includes(":")
    ? zone
    : `${zone.slice(0, 3)}:${zone.slice(3)}`
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${fraction}${normalizedZone}`)
  if (!Number.isFinite(ms)) return null
  const iso = new Date(ms).toISOString()
  return iso.endsWith(".000Z") ? `${iso.slice(0, -5)}Z` : iso
}

/** Checks and normalises options; fails with a one-line `InvalidSyncOptions`. */
export const validateSyncOptions = (options: SyncOptions): Effect.Effect<ValidatedSyncOptions, InvalidSyncOptions> =>
  Effect.suspend(() => {
    const invalid = (message: string) => Effect.fail(new InvalidSyncOptions({ message }))
    const organizers = options.organizers.map((o) => o.trim())
    if (organizers.length === 0) return invalid("at least one --organizer <userId> is required")
    if (organizers.some((o) => o === "")) return invalid("--organizer must not be empty")
    const meetingIds = (options.meetingIds ?? []).map((m) => m.trim())
    if (meetingIds.some((m) => m === "")) return invalid("--meeting must not be empty")
    const joinUrls = options.joinUrls ?? []
    for (const url of joinUrls) {
      if (!isHttpUrl(url)) return invalid(`--join-url is not an http(s) URL: ${JSON.stringify(url)}`)
    }
    const adhocCallIds = (options.adhocCallIds ?? []).map((c) => c.trim())
    if (adhocCallIds.some((c) => c === "")) return invalid("--adhoc-call must not be empty")
    const targeted = meetingIds.length > 0 || joinUrls.length > 0 || adhocCallIds.length > 0
    const adhocCalls = options.adhocCalls ?? false
    if (adhocCalls && targeted) {
      return invalid(
        "--adhoc-calls exports every ad hoc call of a window: list calls with --adhoc-call instead, or drop --meeting/--join-url/--adhoc-call"
      )
    }
    let from: string | null = null
    let to: string | null = null
    if (options.from !== undefined) {
      from = parseIsoDateTime(options.from)
      if (from === null) return invalid(`--from is not an ISO 8601 date-time: ${JSON.stringify(options.from)}`)
    } else if (!targeted) return invalid("--from <ISO date-time> is required (or --meeting, --join-url, --adhoc-call)")
    if (options.to !== undefined) {
      to = parseIsoDateTime(options.to)
      if (to === null) return invalid(`--to is not an ISO 8601 date-time: ${JSON.stringify(options.to)}`)
    } else if (!targeted && options.incremental !== true) return invalid("--to <ISO date-time> is required")
    if (from !== null && to !== null && !(Date.parse(from) < Date.parse(to))) {
      return invalid(`--from (${options.from}) must be before --to (${options.to})`)
    }
    if (options.out.trim() === "") return invalid("--out must not be empty")
    const concurrency = options.concurrency ?? defaultPolicy.maxConcurrentDownloads
    const concurrencyProblem = policyValueProblem("maxConcurrentDownloads", concurrency)
    if (concurrencyProblem !== undefined) return invalid(`--concurrency ${concurrencyProblem}, got ${concurrency}`)
    return Effect.succeed({
      organizers: [...new Set(organizers)],
      from,
      to,
      meetingIds: [...new Set(meetingIds)],
      joinUrls: [...new Set(joinUrls)],
      adhocCallIds: [...new Set(adhocCallIds)],
      adhocCalls,
      out: options.out,
      incremental: options.incremental ?? false,
      concurrency,
      dryRun: options.dryRun ?? false,
      metadataContent: options.metadataContent ?? false
    })
  })

export const isHttpUrl = (text: string): boolean => {
  try {
    const url = new URL(text)
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== ""
  } catch {
    return false
  }
}
