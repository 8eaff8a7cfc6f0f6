/**
 * Every sink holds the same truth: random run sequences (new sets, late
 * transcripts, restarted recordings, unmatched sets sharing partitions,
 * re-runs, SIGKILLs between writes) through the filesystem + manifest,
 * SQLite, Postgres, Parquet and Azure Blob at once, merge and append; see
 * `support/sinkModel.ts`. A few fixed seeds here; `pnpm soak sinks --runs N`
 * sweeps more.
 */
import { describe, inject, it } from "vitest"
import { checkSinkModel } from "./support/sinkModel.js"

describe("every sink against the model", () => {
  it("agrees with the manifest after every run, killed runs included", async () => {
    await checkSinkModel(
      { pgUrl: inject("pgUrl"), azureConnectionString: inject("azuriteConnectionString") },
      { numRuns: 2, seed: 20261205, maxCommands: 10 }
    )
  }, 240_000)
})
