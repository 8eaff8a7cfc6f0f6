/**
 * Every sink holds the same truth: random run sequences (new sets, late
 * transcripts, restarted recordings, unmatched sets sharing partitions,
 * re-runs, SIGKILLs between writes) through the filesystem + manifest,
 * SQLite, Postgres, Parquet and Azure Blob at once, merge and append; see
 * `support/sinkModel.ts`. One sequence of a fixed seed here, chosen for what
 * it holds: a run SIGKILLed halfway, a restarted recording taking the
 * transcript, a re-run, a late transcript from the day before pairing the
 * recording-only set, another restart, a second kill, a new meeting and the
 * final run. `pnpm soak sinks --runs N` sweeps random seeds.
 */
import { describe, inject, it } from "vitest"
import { checkSinkModel } from "./support/sinkModel.js"

describe("every sink against the model", () => {
  it("agrees with the manifest after every run, killed runs included", async () => {
    await checkSinkModel(
      { pgUrl: inject("pgUrl"), azureConnectionString: inject("azuriteConnectionString") },
      { numRuns: 1, seed: 145, maxCommands: 8, maxKillsPerRun: 1 }
    )
  }, 300_000) // ~20 s on an idle machine; a killed run is a child process whose start-up a loaded machine stretches
})
