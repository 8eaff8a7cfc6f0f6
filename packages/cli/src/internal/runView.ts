import { serve } from "@meeting-artifacts/viewer"
import { spawn } from "node:child_process"
import * as Effect from "effect/Effect"
import { ExitCode } from "../CliExit.js"
import { markServing } from "./serving.js"

const fatal = (message: string) =>
  Effect.sync(() => {
    process.stderr.write(`meeting-artifacts view: ${message.replace(/\s*\n\s*/g, " ")}\n`)
    return ExitCode.Fatal as number
  })

/** The platform's "open this URL" command; a failure to start it only costs the convenience. */
const openInBrowser = (url: string): void => {
  const [command, args] = process.platform === "darwin"
    ? ["open", [url]]
    : process.platform === "win32"
    ? ["cmd", ["/c", "start", "", url]]
    : ["xdg-open", [url]]
  try {
    const child = spawn(command, args, { stdio: "ignore", detached: true })
    child.on("error", () => process.stderr.write(`meeting-artifacts view: could not open a browser; open ${url}\n`))
    child.unref()
  } catch {
    process.stderr.write(`meeting-artifacts view: could not open a browser; open ${url}\n`)
  }
}

/** Serves until interrupted (SIGINT/SIGTERM end the program's fiber, which closes the server and the index). */
export const runView = (
  flags: { readonly out: string; readonly port: number; readonly state: string | undefined; readonly open: boolean }
): Effect.Effect<number> =>
  Effect.scoped(
    Effect.gen(function*() {
      const state = flags.state
      if (state !== undefined && /^postgres(ql)?:\/\//i.test(state)) {
        return yield* fatal(
          "--state: the run history is read from a SQLite state file; a Postgres store is not supported by view"
        )
      }
      const viewer = yield* Effect.either(serve({
        out: flags.out,
        port: flags.port,
        statePath: state,
        onIndexBuild: (sets) => process.stderr.write(`meeting-artifacts view: indexing ${sets} sets for search...\n`)
      }))
      if (viewer._tag === "Left") return yield* fatal(viewer.left.message)
      const { url } = viewer.right
      yield* Effect.sync(() => {
        process.stdout.write(`VIEW_URL=${url}\n`)
        process.stderr.write(
          `meeting-artifacts view: serving ${flags.out} at ${url} (read-only); stop with Ctrl-C or SIGTERM\n`
        )
        if (flags.open) openInBrowser(url)
      })
      yield* markServing
      return yield* Effect.never
    })
  )
