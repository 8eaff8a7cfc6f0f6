/**
 * `sync`'s settings from the command line, the environment and a `--config` file. Light (no Graph
 * client, no sinks): a bad value is reported before the machinery of a run is loaded.
 */
import { loadConfigFile } from "./configFile.js"
import { FlagError, type Parsed, type Resolved, resolveFlags } from "./flags.js"
import { downloadsAboveRequests, syncFlags } from "./syncFlags.js"

/** How progress, warnings and errors are written on stderr: for people, or as JSON lines for log collectors. */
export type LogFormat = "human" | "json"

/** The settings of a run: every flag resolved from the command line, the environment and the config file. */
export type SyncCommandConfig = Omit<Resolved<typeof syncFlags>, "logFormat"> & { readonly logFormat: LogFormat }

const POSTGRES_BARE = /^postgres(ql)?(\+(append|merge))?$/i

/**
 * `postgres` alone (as `--state`, or a `--sink` kind without a URL) is DATABASE_URL, else a URL
 * naming nothing, so that the driver takes PGHOST, PGUSER, PGPASSWORD, PGDATABASE, PGPORT.
 */
const postgresFromEnv = (env: Record<string, string | undefined>): string => {
  const url = env.DATABASE_URL
  if (url === undefined) return "postgres:///"
  if (url.trim() === "") throw new FlagError("DATABASE_URL is set but empty: unset it, or give it a postgres:// URL")
  return url.trim()
}

/** The flags every exporting command (sync, listen) has, resolved the same way. */
type ExportFlags = Pick<typeof syncFlags, "config" | "state" | "sink" | "logFormat" | "concurrency" | "maxRequests">

/**
 * Flag > environment > `--config` file > default, for every flag of a command that exports (`sync`,
 * `listen`): `--log-format` checked, `--concurrency` within `--max-requests`, `postgres` alone in `--state` / `--sink` taken from the environment.
 */
export const resolveExportConfig = async <T extends ExportFlags>(
  table: T,
  parsed: { readonly [K in keyof T]?: Parsed },
  env: Record<string, string | undefined>
): Promise<Omit<Resolved<T>, "logFormat"> & { readonly logFormat: LogFormat }> => {
  const { config } = resolveFlags({ config: table.config }, { config: parsed.config }, env, undefined)
  const file = config === undefined ? undefined : await loadConfigFile(config)
  const settings = resolveFlags(table, parsed, env, file) as Resolved<T> & Resolved<ExportFlags>
  const logFormat = settings.logFormat
  if (logFormat !== "human" && logFormat !== "json") {
    throw new FlagError(`--log-format must be human or json, got ${JSON.stringify(logFormat)}`)
  }
  const overBudget = downloadsAboveRequests(settings.concurrency, settings.maxRequests, {
    concurrency: "--concurrency",
    maxRequests: "--max-requests"
  })
  if (overBudget !== undefined) throw new FlagError(overBudget)
  return {
    ...settings,
    logFormat: logFormat as LogFormat,
    state: settings.state !== undefined && POSTGRES_BARE.test(settings.state.trim()) && !settings.state.includes("+")
      ? postgresFromEnv(env)
      : settings.state,
    sink: settings.sink.map((spec) => POSTGRES_BARE.test(spec.trim()) ? `${spec.trim()}:${postgresFromEnv(env)}` : spec)
  }
}

/** Flag > environment > `--config` file > default, for every flag of `sync`. */
export const resolveSyncConfig = (
  parsed: { readonly [K in keyof typeof syncFlags]?: Parsed },
  env: Record<string, string | undefined>
): Promise<SyncCommandConfig> => resolveExportConfig(syncFlags, parsed, env)
