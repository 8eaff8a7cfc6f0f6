/**
 * Example 1 — quick start, as a library call.
 *
 * Starts the bundled Graph emulator with a generated tenant and runs the
 * `sync` job into ./out (or the directory given as the first argument),
 * printing progress events as they happen and the run summary at the end.
 *
 *   pnpm --filter @meeting-artifacts/examples quickstart [out-dir]
 */
import { startEmulator } from "@meeting-artifacts/graph-emulator"
import { Progress, sync, syncLayer } from "@meeting-artifacts/pipeline"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as path from "node:path"

const out = path.resolve(process.argv[2] ?? "out")
const emu = await startEmulator({ generate: { organizers: 2, meetingsPerOrganizer: 3, seed: 42 } })

const program = Effect.gen(function*() {
  // Subscribe before the run starts so no event is missed; print one line per finished artifact.
  const events = yield* Effect.flatMap(Progress, (p) => p.subscribe)
  yield* events.pipe(
    Stream.takeUntil((e) => e._tag === "RunFinished"),
    Stream.runForEach((e) =>
      e._tag === "ArtifactCompleted"
        ? Effect.sync(() => console.log(`${e.skipped ? "kept" : "got "} ${e.kind} ${e.bytes} bytes -> ${e.path}`))
        : Effect.void
    ),
    Effect.fork
  )
  return yield* sync({
    organizers: emu.fixture.users.map((u) => u.id),
    from: "2024-01-01T00:00:00Z",
    to: "2024-03-01T00:00:00Z",
    out
  })
}).pipe(
  Effect.scoped,
  Effect.provide(Progress.layer),
  Effect.provide(syncLayer({ out, graph: { baseUrl: emu.baseUrl, credential: Redacted.make(emu.accessToken) } }))
)

try {
  const summary = await Effect.runPromise(program)
  console.log(
    `\n${summary.sets} sets, ${summary.recordings.downloaded} recordings and ${summary.transcripts.downloaded} transcripts ` +
      `downloaded (${summary.recordings.skipped + summary.transcripts.skipped} already there), ` +
      `metered cost $${summary.cost.total.toFixed(4)}\nmanifest: ${summary.manifest}`
  )
} finally {
  await emu.close()
}
