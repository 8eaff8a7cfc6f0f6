/**
 * Renders a run's progress events on stderr: redrawn progress bars on a TTY
 * (artifacts, bytes, throttle waits, ETA), plain log lines otherwise. Never
 * prints anything token-like: events carry ids, paths and Graph codes only.
 */
import type { ProgressEvent } from "@meeting-artifacts/pipeline"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { escapeControl } from "./terminal.js"

export const formatBytes = (n: number): string => {
  if (n < 1024) return `${n} B`
  const units = ["KiB", "MiB", "GiB", "TiB"]
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`
}

export const formatDuration = (ms: number): string => {
  const s = Math.max(0, Math.round(ms / 1000))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  return h > 0
    ? `${h}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}`
    : `${m}:${String(sec).padStart(2, "0")}`
}

const bar = (ratio: number, width = 24): string => {
  const r = Math.min(1, Math.max(0, Number.isFinite(ratio) ? ratio : 0))
  const full = Math.round(r * width)
  return `[${"#".repeat(full)}${"-".repeat(width - full)}]`
}

/** Running totals of a run, folded from its events. */
export class ProgressState {
  pending = 0
  pendingBytes = 0
  pendingBytesKnown = true
  done = 0
  failed = 0
  skipped = 0
  bytes = 0
  throttleWaits = 0
  throttleWaitMs = 0
  retries = 0
  /** The latest retry that was not throttling (a server or connection failure), shown until a success moves on. */
  lastRetry: string | null = null
  readonly startedAt = Date.now()

  apply(event: ProgressEvent): void {
    switch (event._tag) {
      case "Discovered":
        this.pending += event.pending
        if (event.pendingBytes === null) this.pendingBytesKnown = false
        else this.pendingBytes += event.pendingBytes
        break
      case "ArtifactBytes":
        this.bytes += event.bytes
        break
      case "ArtifactCompleted":
        if (event.skipped) this.skipped++
        else this.done++
        this.lastRetry = null
        break
      case "ArtifactFailed":
        this.failed++
        break
      case "Retrying":
        if (!event.throttled) this.lastRetry = retryLine(event)
        break
      case "Stats":
        this.throttleWaits = event.throttleWaits
        this.throttleWaitMs = event.throttleWaitMs
        this.retries = event.retries
        break
      default:
        break
    }
  }

  lines(now = Date.now()): ReadonlyArray<string> {
    const finished = this.done + this.failed + this.skipped
    const elapsed = now - this.startedAt
    const total = Math.max(this.pending, finished)
    let eta = "--:--"
    if (this.pendingBytesKnown && this.pendingBytes > 0 && this.bytes > 0) {
      eta = formatDuration((elapsed / this.bytes) * Math.max(0, this.pendingBytes - this.bytes))
    } else if (finished > 0 && total > finished) {
      eta = formatDuration((elapsed / finished) * (total - finished))
    } else if (total > 0 && finished >= total) eta = "0:00"
    const bytesTotal = this.pendingBytesKnown && this.pendingBytes > 0 ? ` / ${formatBytes(this.pendingBytes)}` : ""
    return [
      `artifacts ${bar(total === 0 ? 0 : finished / total)} ${finished}/${total}` +
      (this.failed > 0 ? ` (${this.failed} failed)` : "") + (this.skipped > 0 ? ` (${this.skipped} already done)` : ""),
      // Graph's metadata carries no sizes, so without a known total the bytes line shows the rate instead of a bar.
      this.pendingBytesKnown && this.pendingBytes > 0
        ? `bytes     ${bar(this.bytes / this.pendingBytes)} ${formatBytes(this.bytes)}${bytesTotal}`
        : `bytes     ${formatBytes(this.bytes)} at ${
          formatBytes(elapsed > 0 ? Math.round((this.bytes * 1000) / elapsed) : 0)
        }/s`,
      `throttled ${this.throttleWaits} waits (${
        formatDuration(this.throttleWaitMs)
      }), ${this.retries} retries   elapsed ${formatDuration(elapsed)}   ETA ${eta}`,
      ...(this.lastRetry !== null ? [this.lastRetry] : [])
    ]
  }
}

/** What is being retried and why (route templates and error codes only: no ids, no tokens). */
const retryLine = (event: Extract<ProgressEvent, { _tag: "Retrying" }>): string =>
  `retrying ${event.route} in ${(event.delayMs / 1000).toFixed(1)} s (attempt ${event.attempt + 1}): ${event.reason}`

/** One plain log line for an event (control characters in ids and messages escaped), or null for the chatty ones. */
export const plainLine = (event: ProgressEvent): string | null => {
  const line = eventLine(event)
  return line === null ? null : escapeControl(line)
}

const eventLine = (event: ProgressEvent): string | null => {
  switch (event._tag) {
    case "RunStarted":
      return `sync ${event.runId}: ${event.organizers.length} organizer(s), window ${event.from ?? "-"} .. ${
        event.to ?? "-"
      }${event.incremental ? ", incremental" : ""}${event.dryRun ? ", dry run" : ""}`
    case "Discovered":
      return `organizer ${event.organizerId}: ${event.recordings} recording(s), ${event.transcripts} transcript(s) in ${event.sets} set(s); ${event.pending} to download`
    case "ArtifactCompleted":
      return event.skipped
        ? `already complete ${event.kind} ${event.id}`
        : `downloaded ${event.kind} ${event.id} (${formatBytes(event.bytes)})`
    case "Retrying":
      // Throttling shows in the summary's counts; a failing or unreachable server is said as it happens.
      return event.throttled ? null : retryLine(event)
    case "ArtifactFailed":
      return `FAILED ${event.kind} ${event.id} of meeting ${event.meetingId}: ${event.reason}${
        event.code !== null ? ` (code ${event.code})` : ""
      }${event.requestId !== null ? ` request-id ${event.requestId}` : ""}`
    default:
      return null
  }
}

/** How long a renderer rests after each batch of events (see `forEachBatch`). */
const BATCH_PAUSE_MS = 50

/**
 * Runs `render` on the events that are ready, then rests `BATCH_PAUSE_MS` before taking the next ones:
 * the renderer wakes once per batch instead of once per event (several per artifact), so a run of many
 * small artifacts does not pay a fiber wake-up and a stream pull per event. Lines are at most that late.
 * No rest after the run's last event, nor once `ended` completes (the stream's end is then near: it
 * delivers what was published before it and ends), so a renderer is joined without a timer's wait.
 */
export const forEachBatch = <E, R>(
  events: Stream.Stream<ProgressEvent, E, R>,
  render: (chunk: Chunk.Chunk<ProgressEvent>) => void,
  ended: Effect.Effect<void> | undefined = undefined
): Effect.Effect<void, E, R> => {
  const rest = ended === undefined
    ? Effect.sleep(BATCH_PAUSE_MS)
    : Effect.raceFirst(Effect.sleep(BATCH_PAUSE_MS), ended)
  return Stream.runForEachChunk(events, (chunk) =>
    Effect.suspend(() => {
      render(chunk)
      return Chunk.some(chunk, (e) => e._tag === "RunFinished") ? Effect.void : rest
    }))
}

/**
 * Consumes `events` until it ends, drawing on `out` (stderr). On a TTY the three bar lines are redrawn
 * at most every 100 ms, and failures are printed above them as they happen. `ended` (the run's
 * `ProgressService.ended`) cuts the renderer's rests short once the run is over.
 */
export const renderProgress = <E, R>(
  events: Stream.Stream<ProgressEvent, E, R>,
  out: NodeJS.WriteStream = process.stderr,
  ended?: Effect.Effect<void>
): Effect.Effect<void, E, R> => {
  const tty = out.isTTY === true && process.env.TERM !== "dumb"
  if (!tty) {
    // The header waits for the next line, so a run that fails at once prints only its one-line error.
    let header: string | null = null
    // The events that are ready go out in one write (one per artifact was a system call per artifact).
    return forEachBatch(events, (chunk) => {
      let text = ""
      for (const event of chunk) {
        const line = plainLine(event)
        if (line === null) continue
        if (event._tag === "RunStarted") {
          header = line
          continue
        }
        if (header !== null) text += `${header}\n`
        header = null
        text += `${line}\n`
      }
      if (text !== "") out.write(text)
    }, ended)
  }
  const state = new ProgressState()
  let drawn = 0
  let lastDraw = 0
  const clear = () => {
    if (drawn > 0) out.write(`\u001b[${drawn}A\u001b[0J`)
    drawn = 0
  }
  const draw = (force: boolean) => {
    const now = Date.now()
    if (!force && now - lastDraw < 100) return
    lastDraw = now
    clear()
    const columns = out.columns !== undefined && out.columns > 0 ? out.columns : 100
    const lines = state.lines(now).map((l) => l.slice(0, Math.max(20, columns - 1)))
    out.write(`${lines.join("\n")}\n`)
    drawn = lines.length
  }
  return forEachBatch(events, (chunk) => {
    for (const event of chunk) {
      state.apply(event)
      if (event._tag === "ArtifactFailed" || event._tag === "RunStarted" || event._tag === "Discovered") {
        clear()
        out.write(`${plainLine(event)}\n`)
        draw(true)
      } else if (event._tag === "RunFinished") draw(true)
      else draw(false)
    }
  }, ended).pipe(Effect.ensuring(Effect.sync(() => draw(true))))
}
