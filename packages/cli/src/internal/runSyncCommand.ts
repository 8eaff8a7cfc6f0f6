/**
 * What `sync` runs once its settings are resolved: the tenants of a `--tenants` file, a run on a
 * `--cluster`, or one export in this process. Kept apart from runSync.ts: the plain sync's code-cached
 * script (see exportMain.ts) holds only the one export, so it imports nothing that loads these on demand.
 */
import * as Effect from "effect/Effect"
import { runExport } from "./runSync.js"
import type { SyncCommandConfig } from "./syncConfig.js"

/** Runs `sync` and returns the exit code (0, 1 or 2); never fails. */
export const runSyncCommand = (config: SyncCommandConfig): Effect.Effect<number> =>
  Effect.gen(function*() {
    if (config.tenants !== undefined) {
      const { runTenants } = yield* Effect.promise(() => import("./runTenants.js"))
      return yield* runTenants(config, config.tenants)
    }
    if (config.cluster !== undefined) {
      // Loaded only for cluster runs: @effect/cluster and the Postgres driver stay out of a plain sync.
      const { runClusterSync } = yield* Effect.promise(() => import("./runClusterSync.js"))
      return yield* runClusterSync(config, config.cluster)
    }
    return yield* runExport(config)
  })
