/**
 * `sync`'s settings from the command line, the environment and a `--config` file. Light (no Graph
 * client, no sinks): a bad value is reported before the machinery of a run is loaded.
 */
import { loadConfigFile } from "./configFile.js"
import { FlagError, type Parsed, type Resolved, resolveFlags } from "./flags.js"
import { syncFlags } from "./syncFlags.js"

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

/** Flag > environment > `--config` file > default, for every flag of `sync`. */
export const resolveSyncConfig = async (
  parsed: { readonly [K in keyof typeof syncFlags]?: Parsed },
  env: Record<string, string | undefined>
): Promise<SyncCommandConfig> => {
  const { config } = resolveFlags({ config: syncFlags.config }, { config: parsed.config }, env, undefined)
  const file = config === undefined ? undefined : await loadConfigFile(config)
  const settings = resolveFlags(syncFlags, parsed, env, file)
  const logFormat = settings.logFormat
  if (logFormat !== "human" && logFormat !== "json") {
    throw new FlagError(`--log-format must be human or json, got ${JSON.stringify(logFormat)}`)
  }
  return {
    ...settings,
    logFormat,
    state: settings.state !== undefined && POSTGRES_BARE.test(settings.state.trim()) && !settings.state.includes("+")
      ? postgresFromEnv(env)
      : settings.state,
    sink: settings.sink.map((spec) => POSTGRES_BARE.test(spec.trim()) ? `${spec.trim()}:${postgresFromEnv(env)}` : spec)
  }
}
