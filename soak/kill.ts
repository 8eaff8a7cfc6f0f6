/**
 * `pnpm soak kill --runs N [--seed S]`: the real CLI with every record sink
 * (SQLite, Postgres, Parquet, Azure Blob on Azurite; merge and append) and
 * the state on Postgres, against the emulator's `hostile` profile, SIGKILLed
 * at a random moment N times (each attempt re-runs the same window, so kills
 * land in discovery, downloads, manifest and sink writes alike), then run to
 * the end. The final state must equal a clean run's: the same manifest lines,
 * files intact, every merge sink holding the same sets (artifact ids, cue
 * counts) as the clean run's, every append sink holding each completed run's
 * sets. Starts its own Postgres, Azurite and emulator on loopback.
 */
import { startEmulator } from "@meeting-artifacts/graph-emulator"
import * as fs from "node:fs"
import * as path from "node:path"
import { formatSets, sinkSets } from "../packages/sinks/test/support/sinkContents.js"
import { compareSinks, everySink, sharedPartitionTenant, startSinkServers } from "../test/everySink.js"
import {
  cleanEnv,
  collect,
  expectedArtifacts,
  syncArgs,
  runCli,
  spawnCli,
  tempDir,
  verifyOutput
} from "../test/helpers.js"
import { mulberry32 } from "../packages/graph-emulator/src/internal/prng.js"
import { option } from "./internal/args.js"

const kills = option("runs", 20)
const seed = option("seed", Math.floor(Math.random() * 2 ** 31))
const rand = mulberry32(seed)
const started = Date.now()
const elapsed = () => `${Math.round((Date.now() - started) / 1000)} s`
console.log(`soak kill: ${kills} SIGKILLs of sync with every sink (hostile profile), seed ${seed}`)

const servers = await startSinkServers()
const emu = await startEmulator(sharedPartitionTenant(5))
let failed = false
try {
  const base = tempDir("ma-soak-kill-")
  const setup = async (name: string) => {
    const dir = path.join(base, name)
    fs.mkdirSync(dir)
    const sinks = await everySink(dir, servers)
    const out = path.join(dir, "out")
    const args = [
      ...syncArgs(emu, out),
      "--json",
      ...sinks.args
    ]
    return { out, sinks, args, env: cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken, ...sinks.env }) }
  }
  const completedRun = (stdout: string) => (JSON.parse(stdout) as { runId: string }).runId

  // The clean run: the reference, and how long a run takes (kills are spread over that).
  const clean = await setup("clean")
  const t0 = Date.now()
  const ref = await runCli(clean.args, { env: clean.env })
  const runMs = Date.now() - t0
  if (ref.code !== 0) throw new Error(`the clean run exited ${ref.code}: ${ref.stderr.slice(-2000)}`)
  console.log(`clean run: ${runMs} ms (${elapsed()})`)

  const killed = await setup("killed")
  const completed: Array<string> = []
  let finishedFirst = 0
  for (let i = 1; i <= kills; i++) {
    const delay = Math.round(200 + rand() * runMs)
    const child = spawnCli(killed.args, { env: killed.env })
    const timer = setTimeout(() => child.kill("SIGKILL"), delay)
    const result = await collect(child)
    clearTimeout(timer)
    if (result.signal === "SIGKILL") {
      console.log(`kill ${i}/${kills} after ${delay} ms (${elapsed()})`)
      continue
    }
    // Finished before its kill: a complete run (the next ones re-run an exported window, still writing every sink).
    if (result.code !== 0) throw new Error(`attempt ${i} exited ${result.code}: ${result.stderr.slice(-2000)}`)
    completed.push(completedRun(result.stdout))
    finishedFirst++
    console.log(`kill ${i}/${kills}: the run finished before ${delay} ms (${elapsed()})`)
  }
  const last = await runCli(killed.args, { env: killed.env })
  if (last.code !== 0) throw new Error(`the final run exited ${last.code}: ${last.stderr.slice(-2000)}`)
  completed.push(completedRun(last.stdout))

  const problems = [...verifyOutput(killed.out, expectedArtifacts(emu.fixture))]
  const lines = (out: string) =>
    fs.readFileSync(path.join(out, "manifest.jsonl"), "utf8").split("\n").filter(Boolean).sort()
  if (JSON.stringify(lines(killed.out)) !== JSON.stringify(lines(clean.out))) {
    problems.push("manifest.jsonl differs from the clean run's")
  }
  problems.push(...await compareSinks(killed.out, killed.sinks, completed, servers.azureConnectionString))
  for (const [i, spec] of killed.sinks.specs.entries()) {
    if (spec.disposition !== "merge") continue
    const got = formatSets(await sinkSets(spec, servers.azureConnectionString))
    const want = formatSets(await sinkSets(clean.sinks.specs[i]!, servers.azureConnectionString))
    if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${spec._tag}: differs from the clean run's`)
  }
  if (problems.length > 0) throw new Error(problems.join("\n"))
  console.log(
    `soak kill: passed: ${
      kills - finishedFirst
    } SIGKILLs (${finishedFirst} attempts finished first), then a final run: ` +
      `manifest, files and ${killed.sinks.specs.length} sinks equal the clean run's (seed ${seed}, ${elapsed()})`
  )
  fs.rmSync(base, { recursive: true, force: true }) // kept on failure, for a look
} catch (e) {
  failed = true
  console.error(`soak kill: FAILED (seed ${seed}, ${elapsed()})\n${e instanceof Error ? e.message : String(e)}`)
} finally {
  await emu.close()
  await servers.stop()
}
process.exitCode = failed ? 1 : 0
