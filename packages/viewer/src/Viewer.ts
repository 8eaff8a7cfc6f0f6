/**
 * The viewer: a read-only web page over an export, served on 127.0.0.1.
 *
 * `serve` builds (or reuses) the export's index, listens, and stops with its
 * scope. While it serves it watches manifest.jsonl, its journal and
 * failures.jsonl, and swaps in a fresh index when a sync changed them.
 */
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ExportIndex } from "./ExportIndex.js"
import { openIndex, sourceStamp } from "./ExportIndex.js"
import { handle } from "./internal/handler.js"
import { readRuns } from "./RunHistory.js"
import { ViewerError } from "./ViewerError.js"

export interface ViewerOptions {
  /** The export folder (the `--out` of a sync). */
  readonly out: string
  /** 0 (the default) picks a free port. */
  readonly port?: number | undefined
  /** Hears when the index is (re)built, with the number of sets. */
  readonly onIndexBuild?: ((sets: number) => void) | undefined
  /** The SQLite checkpoint store the syncs used (`--state`), for the run history; default `<out>/.meeting-artifacts/state.sqlite`. */
  readonly statePath?: string | undefined
  /** How often to look for a changed manifest, in ms (default 2000). */
  readonly watchIntervalMs?: number | undefined
}

export interface RunningViewer {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string
  readonly port: number
  /** Where the index lives. */
  readonly indexPath: string
}

const HOST = "127.0.0.1"

const listen = (server: http.Server, port: number) =>
  Effect.async<number, ViewerError>((resume) => {
    const onError = (e: Error) =>
      resume(
        Effect.fail(
          new ViewerError({ operation: "listen", message: `cannot listen on ${HOST}:${port}: ${e.message}`, cause: e })
        )
      )
    server.once("error", onError)
    server.listen(port, HOST, () => {
      server.off("error", onError)
      resume(Effect.succeed((server.address() as AddressInfo).port))
    })
  })

const close = (server: http.Server) =>
  Effect.async<void>((resume) => {
    server.close(() => resume(Effect.void))
    // A browser keeps connections alive; they must not hold the shutdown.
    server.closeAllConnections()
  })

/** Serve the export in `options.out` until the scope closes. */
export const serve = (options: ViewerOptions): Effect.Effect<RunningViewer, ViewerError, Scope.Scope> =>
  Effect.gen(function*() {
    const port = options.port ?? 0
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      return yield* new ViewerError({
        operation: "listen",
        message: `--port must be an integer from 0 to 65535, not ${port}`
      })
    }
    // The stamp is taken before the index is opened: a change made meanwhile is seen by the watcher.
    const stamp = sourceStamp(options.out)
    const state: { index: ExportIndex; stamp: string; port: number } = {
      index: yield* openIndex(options.out, { onBuild: options.onIndexBuild }),
      stamp,
      port: 0
    }
    yield* Effect.addFinalizer(() => Effect.sync(() => state.index.close()))
    const rootReal = yield* Effect.sync(() => fs.realpathSync(options.out))
    const server = http.createServer((req, res) => {
      try {
        handle(
          {
            rootReal,
            index: () => state.index,
            runs: () => readRuns(rootReal, options.statePath),
            port: () => state.port
          },
          req,
          res
        )
      } catch (e) {
        if (!res.headersSent) {
          res.writeHead(500, { "content-type": "application/json; charset=utf-8", "x-content-type-options": "nosniff" })
        }
        res.end(JSON.stringify({ error: String((e as Error)?.message ?? e) }))
      }
    })
    state.port = yield* Effect.acquireRelease(listen(server, port), () => close(server))

    // A sync that changes the export while we serve: reindex in the background, swap when done.
    let refreshing = false
    const timer = setInterval(() => {
      const stamp = sourceStamp(rootReal)
      if (refreshing || stamp === state.stamp) return
      refreshing = true
      Effect.runPromise(openIndex(rootReal, { onBuild: options.onIndexBuild })).then(
        (fresh) => {
          const old = state.index
          state.index = fresh
          state.stamp = stamp
          old.close()
        },
        () => {
          // A manifest caught mid-rewrite: the next tick tries again.
        }
      ).finally(() => {
        refreshing = false
      })
    }, options.watchIntervalMs ?? 2000)
    timer.unref()
    yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(timer)))

    return { url: `http://${HOST}:${state.port}/`, port: state.port, indexPath: state.index.path }
  })
