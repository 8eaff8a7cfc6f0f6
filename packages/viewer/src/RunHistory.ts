/**
 * The runs a sync recorded in the checkpoint store (`checkpoint_runs` of
 * `<out>/.meeting-artifacts/state.sqlite`, see sinks' CheckpointStore),
 * read through a read-only connection: the viewer never migrates, locks or
 * writes the state a sync may be using right now.
 */
import type { CheckpointStore } from "@meeting-artifacts/sinks"
import { Layout } from "@meeting-artifacts/sinks"
import Database from "better-sqlite3"
import * as fs from "node:fs"

export interface RunEntry extends CheckpointStore.RunRecord {
  /** endedAt - startedAt, null while running (or killed). */
  readonly durationMs: number | null
}

const parseJson = <A>(text: string, fallback: A): A => {
  try {
    return JSON.parse(text) as A
  } catch {
    return fallback
  }
}

/**
 * The runs, oldest first; none when there is no state file or it has no runs
 * table yet. `statePath`: the SQLite file a sync was given as `--state`
 * (default `<out>/.meeting-artifacts/state.sqlite`).
 */
export const readRuns = (out: string, statePath?: string): ReadonlyArray<RunEntry> => {
  const file = statePath ?? Layout.defaultStatePath(out)
  if (!fs.existsSync(file)) return []
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checkpoint_runs'").get()
    if (table === undefined) return []
    const rows = db.prepare("SELECT * FROM checkpoint_runs ORDER BY started_at, run_id").all() as Array<any>
    return rows.map((r) => {
      const ended = r.ended_at === null ? NaN : Date.parse(r.ended_at)
      const duration = ended - Date.parse(r.started_at)
      return {
        runId: r.run_id,
        windowFrom: r.window_from,
        windowTo: r.window_to,
        organizers: parseJson<Array<string>>(r.organizers, []),
        startedAt: r.started_at,
        endedAt: r.ended_at,
        status: r.status,
        counts: parseJson<Record<string, number>>(r.counts, {}),
        durationMs: Number.isFinite(duration) ? duration : null
      }
    })
  } finally {
    db.close()
  }
}
