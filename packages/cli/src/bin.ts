/**
 * The `meeting-artifacts` entry point. Help and `--version` are answered from light data (the flag
 * tables) without loading @effect/cli or the Effect runtime, so a scheduler's probe or a user's
 * `--help` starts in about the time Node itself takes. A plain `sync` line (see internal/plainArgs.ts)
 * has its settings resolved here and runs without @effect/cli (internal/syncMain.js); everything else
 * loads internal/main.js.
 */
import { ExitCode } from "./ExitCode.js"
import { commandHelp, PROGRAM, SUMMARY, VERSION } from "./internal/commands.js"
import { helpRequest, renderCommandHelp, renderRootHelp, styleFor } from "./internal/help.js"
import { settingsErrorLine } from "./internal/flags.js"
import { plainArgs } from "./internal/plainArgs.js"
import { resolveSyncConfig } from "./internal/syncConfig.js"
import { oneLine } from "./internal/terminal.js"
import { syncFlags } from "./internal/syncFlags.js"

const args = process.argv.slice(2)
const help = helpRequest(args, commandHelp)
if (help !== undefined) {
  // Plain text off a terminal or with NO_COLOR.
  const style = styleFor(process.stdout, process.env)
  process.stdout.write(
    help.command === undefined
      ? renderRootHelp(PROGRAM, VERSION, SUMMARY, commandHelp, style)
      : renderCommandHelp(PROGRAM, help.command, style)
  )
} else if (args.length === 1 && args[0] === "--version") {
  process.stdout.write(`${VERSION}\n`)
} else {
  const plainSync = args[0] === "sync" ? plainArgs(syncFlags, args.slice(1)) : undefined
  if (plainSync === undefined) await import("./internal/main.js")
  else {
    // Settings first (light): a refused line loads nothing more. Then the run in one import, its
    // modules read and compiled as one graph (two imports one after the other each waited for its reads).
    const config = await resolveSyncConfig(plainSync, process.env).catch((e: unknown) => {
      process.stderr.write(`${oneLine(settingsErrorLine("sync", e))}\n`)
      process.exitCode = ExitCode.Fatal
      return undefined
    })
    if (config !== undefined) (await import("./internal/syncMain.js")).runPlainSync(config)
  }
}
