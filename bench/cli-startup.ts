/**
 * Start-up of the `meeting-artifacts` command as a user runs it (plain node, the built bin, no tsx):
 * `--version`, `sync --help` and a `sync` refused for a missing flag (exit 2: the way into a run, flags
 * read and settings resolved, without the run), next to `node -e 0` measured in the same run,
 * alternating, so load on the machine hits every side alike. Reports the median wall time and the peak RSS of each, and the
 * ratios to the baseline.
 *
 * Goal: each command <= 0.3 s and <= 80 MB RSS on an idle 2-core machine (the baseline is ~0.04 s and
 * ~40 MB there); on a loaded machine compare the ratios.
 *
 * Run: `pnpm bench cli-startup` (option: `-- --runs=15`). It builds the bin first when its sources changed.
 */
import { spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as os from "node:os"
import { buildCliIfStale } from "./internal/cli.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "..")
// `--runs 15` or `--runs=15` (`pnpm bench cli-startup -- --runs=15`: bench/run.mjs passes only dashed arguments).
const arg = (name: string, dflt: number): number => {
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`))
  if (eq !== undefined) return Number(eq.slice(name.length + 3))
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}
const RUNS = arg("runs", 15)

await buildCliIfStale()

const bin = path.join(root, "packages/cli/bin/meeting-artifacts.mjs")
const preload = pathToFileURL(path.join(here, "internal/report-rss.mjs")).href
const cases: ReadonlyArray<{ readonly name: string; readonly args: ReadonlyArray<string>; readonly code?: number }> = [
  { name: "node -e 0", args: ["-e", "0"] },
  { name: "meeting-artifacts --version", args: [bin, "--version"] },
  { name: "meeting-artifacts sync --help", args: [bin, "sync", "--help"] },
  // --organizer is missing: exit 2 once the flags are read and the settings resolved
  { name: "meeting-artifacts sync (refused)", args: [bin, "sync", "--out", os.tmpdir(), "--json"], code: 2 }
]

interface Sample {
  readonly ms: number
  readonly rss: number
}

const runOnce = (args: ReadonlyArray<string>, expected = 0): Promise<Sample> =>
  new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(process.execPath, ["--import", preload, ...args], {
      stdio: ["ignore", "ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" }
    })
    let rss = ""
    let stderr = ""
    child.stdio[3]!.on("data", (d: Buffer) => {
      rss += d.toString()
    })
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString()
    })
    child.on("error", reject)
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      if (code !== expected) reject(new Error(`${args.join(" ")} exited ${code}: ${stderr}`))
      else resolve({ ms, rss: Number(rss.trim()) })
    })
  })

const samples = new Map<string, Array<Sample>>(cases.map((c) => [c.name, []]))
// One warm-up round (file cache), then alternate the cases.
for (const c of cases) await runOnce(c.args, c.code)
for (let i = 0; i < RUNS; i++) {
  for (const c of cases) samples.get(c.name)!.push(await runOnce(c.args, c.code))
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
const mb = (bytes: number) => bytes / 1024 / 1024
const summary = cases.map((c) => {
  const xs = samples.get(c.name)!
  return { name: c.name, ms: median(xs.map((x) => x.ms)), rssMb: Math.max(...xs.map((x) => mb(x.rss))) }
})
const base = summary[0]!
console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}; ${RUNS} runs each, alternating`)
for (const s of summary) {
  const ratio = s === base
    ? ""
    : `  (${(s.ms / base.ms).toFixed(2)}x time, ${(s.rssMb / base.rssMb).toFixed(2)}x RSS of node -e 0)`
  const goal = s === base ? "" : s.ms <= 300 && s.rssMb <= 80 ? "  within 0.3 s / 80 MB" : "  OVER 0.3 s / 80 MB"
  console.log(
    `${s.name.padEnd(32)} median ${s.ms.toFixed(0).padStart(5)} ms, peak RSS ${
      s.rssMb.toFixed(1).padStart(5)
    } MB${ratio}${goal}`
  )
}
