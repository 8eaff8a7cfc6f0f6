/**
 * The `meeting-artifacts` entry point. Help and `--version` are answered from light data (the flag
 * tables) without loading @effect/cli or the Effect runtime, so a scheduler's probe or a user's
 * `--help` starts in about the time Node itself takes. A plain `sync` line (see internal/plainArgs.ts)
 * has its settings resolved here and runs without @effect/cli (internal/syncMain.js, from a code-cached
 * CommonJS bundle once built: internal/cachedBundle.ts); everything else loads internal/main.js.
 */
import { ExitCode } from "./ExitCode.js"
import { loadCachedBundle } from "./internal/cachedBundle.js"
import { commandHelp, PROGRAM, SUMMARY, VERSION } from "./internal/commands.js"
import { helpRequest, renderCommandHelp, renderRootHelp, styleFor } from "./internal/help.js"
import { settingsErrorLine } from "./internal/flags.js"
import { plainArgs } from "./internal/plainArgs.js"
import { resolveSyncConfig, type SyncCommandConfig } from "./internal/syncConfig.js"
import { oneLine } from "./internal/terminal.js"
import { syncFlags } from "./internal/syncFlags.js"
import { fileURLToPath } from "node:url"

/** A plain sync's one export as a CommonJS bundle (see internal/cachedBundle.ts), set by scripts/build-bin.mjs. */
declare const __MA_SYNC_BUNDLE__: string | undefined

type ExportMain = typeof import("./internal/exportMain.js")

/**
 * The bundle's imports of what is left outside it, as ES module imports from here (the same node_modules
 * folders as from dist/chunks/). Telemetry's OTLP module is asked for by a name of the build's
 * (scripts/build-bin.mjs) and is this build's own chunk, so it and the OpenTelemetry packages load as
 * ES modules, as from any other command.
 */
const importExternal = (specifier: string): Promise<unknown> =>
  specifier === "#meeting-artifacts/otlp" ? import("./internal/otlp.js") : import(specifier)

/**
 * Whether Node maps stack traces through source maps (`--enable-source-maps`): Node 20 does not for a
 * script compiled by `vm`, so such a run takes the ES module chunk and its linked map instead.
 */
const sourceMapsEnabled = (): boolean =>
  (process as { readonly sourceMapsEnabled?: boolean }).sourceMapsEnabled ??
    [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)].includes("--enable-source-maps")

/**
 * Runs a plain `sync`: one export from the code-cached bundle when built, else (and for --tenants and
 * --cluster, which the bundle leaves out) as modules.
 */
const runPlainSync = async (config: SyncCommandConfig): Promise<void> => {
  if (
    typeof __MA_SYNC_BUNDLE__ === "string" && !sourceMapsEnabled() && config.tenants === undefined &&
    config.cluster === undefined
  ) {
    const bundle = fileURLToPath(new URL(__MA_SYNC_BUNDLE__, import.meta.url))
    return (loadCachedBundle(bundle, importExternal) as ExportMain).runPlainExport(config)
  }
  ;(await import("./internal/syncMain.js")).runPlainSync(config)
}

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
    if (config !== undefined) await runPlainSync(config)
  }
}
