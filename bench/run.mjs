#!/usr/bin/env node
// `pnpm bench [name ...] [--flag value ...]`: lists the benchmarks, or runs the named ones one after
// another, passing every flag (with its value) to each. `pnpm bench x --runs 5` and
// `pnpm bench x -- --runs 5` are the same: names come before the first flag, everything from the
// first flag on is handed over as it is.
import { spawnSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const dir = dirname(fileURLToPath(import.meta.url))
const benches = readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.startsWith("_")).map((f) => f.slice(0, -3))
  .sort()

/** Splits the command line into benchmark names and the flags (with their values) passed to each. */
const parseArgs = (args) => {
  const rest = args.filter((a) => a !== "--")
  const firstFlag = rest.findIndex((a) => a.startsWith("-"))
  return firstFlag < 0
    ? { names: rest, flags: [] }
    : { names: rest.slice(0, firstFlag), flags: rest.slice(firstFlag) }
}

const { names, flags } = parseArgs(process.argv.slice(2))
if (names.length === 0) {
  console.log(
    `benchmarks (see bench/README.md): ${
      benches.join(", ")
    }\nrun one: pnpm bench <name> [--flag value ...]; all: pnpm bench all`
  )
  process.exit(0)
}
const chosen = names.includes("all") ? benches : names
for (const name of chosen) {
  if (!benches.includes(name)) {
    console.error(`bench: unknown benchmark '${name}'; one of: ${benches.join(", ")}`)
    process.exit(2)
  }
}
for (const name of chosen) {
  console.log(`\n=== ${name}`)
  const run = spawnSync(process.execPath, ["--import", "tsx", join(dir, `${name}.ts`), ...flags], { stdio: "inherit" })
  if (run.status !== 0) process.exit(run.status ?? 1)
}
