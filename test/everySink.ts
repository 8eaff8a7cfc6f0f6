/**
 * Running the CLI with every record sink at once (SQLite, Postgres, Parquet,
 * Azure Blob on Azurite, merge and append) and a Postgres state store, and
 * checking each sink against the manifest. Shared by the end-to-end test and
 * `pnpm soak kill`.
 */
import { parseSinkSpecs, type SinkSpec } from "@meeting-artifacts/sinks"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { freshPgDatabase } from "../packages/sinks/test/support/db.js"
import { type RunningServer, startAzurite, startPostgres } from "../packages/sinks/test/support/servers.js"
import {
  everySinkSpec,
  formatSets,
  loadOf,
  manifestSets,
  sinkSets
} from "../packages/sinks/test/support/sinkContents.js"

export interface SinkServers {
  readonly pgUrl: string
  readonly azureConnectionString: string
  readonly stop: () => Promise<void>
}

/** A throwaway Postgres cluster and Azurite, both on loopback. */
export const startSinkServers = async (): Promise<SinkServers> => {
  const started: Array<RunningServer> = []
  try {
    const pg = await startPostgres()
    started.push(pg)
    const az = await startAzurite()
    started.push(az)
    return {
      pgUrl: pg.url,
      azureConnectionString: az.url,
      stop: () => Promise.all(started.map((s) => s.stop())).then(() => undefined)
    }
  } catch (e) {
    await Promise.all(started.map((s) => s.stop()))
    throw e
  }
}

export interface EverySink {
  /** `--sink ...` and `--state ...` arguments. */
  readonly args: Array<string>
  readonly specs: ReadonlyArray<SinkSpec>
  /** Environment the CLI needs for the blob sink. */
  readonly env: Record<string, string>
}

/**
 * Every sink kind (`everySinkSpec`) in fresh places under `base`, and a
 * Postgres state store (a new database each for the sink and the state).
 */
export const everySink = async (base: string, servers: SinkServers): Promise<EverySink> => {
  const sinkDb = await Effect.runPromise(freshPgDatabase(servers.pgUrl))
  const stateDb = await Effect.runPromise(freshPgDatabase(servers.pgUrl))
  const sinks = everySinkSpec(base, sinkDb)
  const specs = Either.getOrThrow(parseSinkSpecs(sinks))
  return {
    args: [...sinks.flatMap((s) => ["--sink", s]), "--state", stateDb],
    specs,
    env: { AZURE_STORAGE_CONNECTION_STRING: servers.azureConnectionString }
  }
}

/**
 * Each sink against the manifest in `out`: a merge sink holds exactly the
 * manifest's sets (artifact ids and cue counts); an append sink holds them
 * once under the load of each run in `completedRuns` (and, for runs that were
 * killed, whatever they got to, which is not checked). Returns the differences.
 */
export const compareSinks = async (
  out: string,
  sinks: EverySink,
  completedRuns: ReadonlyArray<string>,
  azureConnectionString: string
): Promise<Array<string>> => {
  const problems: Array<string> = []
  for (const spec of sinks.specs) {
    const held = await sinkSets(spec, azureConnectionString)
    const loads = spec.disposition === "merge" ? [""] : completedRuns.map((r) => loadOf(spec, r))
    const expected = (await Promise.all(loads.map((l) => manifestSets(out, l)))).flat()
    const got = formatSets(held.filter((s) => loads.includes(s.load)))
    const want = formatSets(expected)
    const missing = want.filter((s) => !got.includes(s))
    const extra = got.filter((s) => !want.includes(s))
    if (spec.disposition === "merge" && held.length !== got.length) {
      extra.push(`${held.length - got.length} rows of other loads`)
    }
    if (missing.length > 0 || extra.length > 0 || got.length !== want.length) {
      problems.push(
        `${spec._tag}+${spec.disposition}: missing [${missing.join("; ")}], unexpected [${
          extra.join("; ")
        }] (${got.length} rows, ${want.length} expected)`
      )
    }
  }
  return problems
}

/**
 * The emulator tenant the every-sink checks run against (issue 10's case): paired, restarted,
 * transcript-only, recording-only and legacy meetings over two days, so unmatched sets share date
 * partitions with paired ones; hostile faults, two items a page.
 */
export const sharedPartitionTenant = (meetingsPerOrganizer: number) => ({
  generate: {
    organizers: 2,
    meetingsPerOrganizer,
    seed: 10,
    spanDays: 2,
    recordingBytes: [4 * 1024, 32 * 1024] as [number, number],
    cues: [2, 6] as [number, number],
    mix: { paired: 0.4, restarted: 0.15, transcriptOnly: 0.15, recordingOnly: 0.15, legacy: 0.15 }
  },
  faults: "hostile" as const,
  pageSize: 2
})
