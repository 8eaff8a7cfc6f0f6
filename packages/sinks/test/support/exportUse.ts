import * as Effect from "effect/Effect"
import { CheckpointStore } from "../../src/index.js"

/**
 * Opens the checkpoint store (SQLite file or postgres:// URL) and uses it as the export into `out` would:
 * looks up two old completed artifacts, lists its dead letters, marks one artifact completed. What it saw.
 */
export const useAsExport = (state: string, out: string) =>
  Effect.scoped(Effect.gen(function*() {
    const store = yield* (state.startsWith("postgres")
      ? CheckpointStore.makePostgres(state)
      : CheckpointStore.makeSqlite(state))
    const view = store.forExport(CheckpointStore.exportScope(out))
    const completed = yield* view.getCompletedMany("recording", ["old-0", "old-1"])
    const dead = yield* view.listDeadLetters()
    yield* view.markCompleted({
      kind: "recording",
      id: `new-${out}`,
      meetingId: "m",
      organizerId: "o",
      path: "o/m/new.mp4",
      bytes: 1,
      sha256: "s"
    })
    return { completed: completed.size, dead: dead.length }
  }))
