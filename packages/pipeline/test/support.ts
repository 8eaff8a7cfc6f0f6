/**
 * What the pipeline's sync tests share: a run of `sync` against a Graph base
 * URL with the default services, collecting its progress events.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Progress, type ProgressEvent, sync, syncLayer, type SyncOptions } from "../src/index.js"

export const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex")
export const tempOut = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ma-pipeline-")), "out")
export const WINDOW = { from: "2024-01-01T00:00:00Z", to: "2024-03-01T00:00:00Z" }

/** One sync with `syncLayer`'s services; `policy` overrides the Graph client's resilience policy. */
export const runSync = (baseUrl: string, token: string, options: SyncOptions, policy?: Record<string, number>) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const events: Array<ProgressEvent> = []
      const subscription = yield* Effect.flatMap(Progress, (p) => p.subscribe)
      const collector = yield* subscription.pipe(
        Stream.takeUntil((e) => e._tag === "RunFinished"),
        Stream.runForEach((e) => Effect.sync(() => events.push(e))),
        Effect.fork
      )
      const summary = yield* sync(options)
      yield* collector.await
      return { summary, events }
    }).pipe(
      Effect.scoped,
      Effect.provide(Progress.layer),
      Effect.provide(syncLayer({
        out: options.out,
        dryRun: options.dryRun,
        graph: { baseUrl, credential: Redacted.make(token), ...(policy ? { policy } : {}) }
      }))
    )
  )

/** The lines of `<out>/manifest.jsonl` (none when it does not exist). */
export const readManifest = (out: string) =>
  fs.existsSync(path.join(out, "manifest.jsonl"))
    ? fs.readFileSync(path.join(out, "manifest.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l))
    : []
