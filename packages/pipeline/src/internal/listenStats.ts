/** The `listen` job's counters, moved by the events it reports (so the two always agree). */
import type { ListenEvent, ListenStats } from "../ListenEvent.js"

export const make = (onEvent: (event: ListenEvent) => void) => {
  let received = 0
  let queued = 0
  let duplicates = 0
  let exported = 0
  const rejected: Record<string, number> = {}
  const lifecycle: Record<string, number> = {}
  const bump = (record: Record<string, number>, key: string) => (record[key] = (record[key] ?? 0) + 1)

  /** Counts the event, then hands it on. */
  const event = (e: ListenEvent): void => {
    if (e._tag === "NotificationAccepted") {
      received++
      if (e.outcome === "queued") queued++
      else duplicates++
    } else if (e._tag === "NotificationRejected") {
      received++
      bump(rejected, e.reason)
    } else if (e._tag === "Exported") exported++
    else if (e._tag === "LifecycleReceived") bump(lifecycle, e.lifecycleEvent)
    onEvent(e)
  }

  const snapshot = (): ListenStats => ({
    received,
    queued,
    duplicates,
    rejected: { ...rejected },
    exported,
    lifecycle: { ...lifecycle }
  })

  /** Flat numbers for the run record. */
  const runCounts = (): Record<string, number> => ({
    received,
    queued,
    duplicates,
    exported,
    rejected: Object.values(rejected).reduce((a, b) => a + b, 0)
  })

  return { event, snapshot, runCounts }
}
