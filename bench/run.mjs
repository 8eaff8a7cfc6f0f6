#!/usr/bin/env node
// `pnpm bench [name ...]`: lists the benchmarks, or runs the named ones one after another.
import { spawnSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const dir = dirname(fileURLToPath(import.meta.url))
const benches = readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.startsWith("_")).map((f) => f.slice(0, -3)).sort()
const [, , ...args] = process.argv
const names = args.filter((a) => a !== "--" && !a.startsWith("-"))
const extra = args.filter((a) => a.startsWith("-") && a !== "--")
if (names.length === 0) {
  console.log(`benchmarks (see bench/README.md): ${benches.join(", ")}\nrun one: pnpm bench <name> [-- --flags]; all: pnpm bench all`)
  process.exit(0)
}
const chosen = names.includes("all") ? benches : names
for (const name of chosen) {
  if (!benches.includes(name)) {
    console.error(`bench: unknown benchmark '${name}'; one of: ${benches.join(", ")}`)
    process.exit(2)
  }
  console.log(`\n=== ${name}`)
  const run = spawnSync(process.execPath, ["--import", "tsx", join(dir, `${name}.ts`), ...extra], { stdio: "inherit" })
  if (run.status !== 0) process.exit(run.status ?? 1)
}
