#!/usr/bin/env node
// `pnpm soak <name> [--runs N] [...]`: long randomized checks that are not part of `pnpm test`.
// Lists the soaks without a name. `pnpm soak kill --runs 200` and `pnpm soak kill -- --runs 200` are the same.
import { spawnSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const dir = dirname(fileURLToPath(import.meta.url))
const soaks = readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.startsWith("_")).map((f) => f.slice(0, -3)).sort()
const args = process.argv.slice(2).filter((a) => a !== "--")
const name = args.find((a) => !a.startsWith("-"))
if (name === undefined) {
  console.log(`soaks (see soak/README.md): ${soaks.join(", ")}\nrun one: pnpm soak <name> --runs N`)
  process.exit(0)
}
if (!soaks.includes(name)) {
  console.error(`soak: unknown soak '${name}'; one of: ${soaks.join(", ")}`)
  process.exit(2)
}
const rest = args.filter((a, i) => i !== args.indexOf(name))
const run = spawnSync(process.execPath, ["--import", "tsx", join(dir, `${name}.ts`), ...rest], { stdio: "inherit" })
process.exit(run.status ?? 1)
