/**
 * `pnpm soak sinks --runs N [--seed S] [--commands M] [--kills K] [--shrink]`:
 * the sink model test (packages/sinks/test/support/sinkModel.ts) over N random
 * sequences of up to M commands (default 14), each run SIGKILLed up to K times
 * before it completes (default 2), instead of the test's 2 fixed sequences. Starts its own Postgres and Azurite on loopback. Prints the seed;
 * a failure prints the failing sequence (add --shrink to minimise it).
 */
import { startAzurite, startPostgres } from "../packages/sinks/test/support/servers.js"
import { checkSinkModel } from "../packages/sinks/test/support/sinkModel.js"
import { flag, option } from "./internal/args.js"

const runs = option("runs", 20)
const seed = option("seed", Math.floor(Math.random() * 2 ** 31))
const maxCommands = option("commands", 14)
const maxKillsPerRun = option("kills", 2)
const started = Date.now()
console.log(`soak sinks: ${runs} sequences of up to ${maxCommands} commands, seed ${seed}`)
const pg = await startPostgres()
const azurite = await startAzurite().catch(async (e) => {
  await pg.stop()
  throw e
})
let sequences = 0
try {
  await checkSinkModel({ pgUrl: pg.url, azureConnectionString: azurite.url }, {
    numRuns: runs,
    seed,
    maxCommands,
    maxKillsPerRun,
    shrink: flag("shrink"),
    log: (line) => {
      if (line.startsWith("sequence")) sequences++
      console.log(line.startsWith("sequence") ? `[${sequences}/${runs}] ${line}` : line)
    }
  })
  console.log(`soak sinks: ${runs} sequences passed (seed ${seed}) in ${Math.round((Date.now() - started) / 1000)} s`)
} catch (e) {
  const cause = e instanceof Error && e.cause instanceof Error ? `\ncaused by: ${e.cause.stack ?? e.cause.message}` : ""
  console.error(`soak sinks: FAILED (seed ${seed})\n${e instanceof Error ? e.message : String(e)}${cause}`)
  process.exitCode = 1
} finally {
  await Promise.all([pg.stop(), azurite.stop()])
}
