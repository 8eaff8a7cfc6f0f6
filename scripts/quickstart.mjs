#!/usr/bin/env node
// `pnpm sync`: the whole thing on one machine, no Microsoft tenant needed.
// Starts the bundled Graph emulator in this process with a generated tenant,
// runs `meeting-artifacts sync` against it into ./out (a child process, as a
// user would), prints where the output is, and stops the emulator.
//
//   pnpm sync                                   # 3 organizers x 4 meetings, no faults
//   pnpm sync -- --faults hostile               # throttling, 5xx, resets, redirects, ...
//   pnpm sync -- --out /tmp/x --organizers 5 --meetings 10 --seed 7
import { spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { parseArgs } from "node:util"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    out: { type: "string", default: "out" },
    faults: { type: "string", default: "none" },
    organizers: { type: "string", default: "3" },
    meetings: { type: "string", default: "4" },
    seed: { type: "string", default: "42" },
    help: { type: "boolean", default: false }
  }
})
if (values.help) {
  process.stdout.write(
    "usage: pnpm sync [-- --out <dir>] [--faults none|throttled|hostile] [--organizers n] [--meetings n] [--seed n]\n"
  )
  process.exit(0)
}
const count = (name, text) => {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    process.stderr.write(`quickstart: --${name} must be an integer from 1 to 1000\n`)
    process.exit(2)
  }
  return n
}
const spec = {
  organizers: count("organizers", values.organizers),
  meetingsPerOrganizer: count("meetings", values.meetings),
  seed: count("seed", values.seed),
  recordingBytes: [64 * 1024, 512 * 1024]
}
if (!["none", "throttled", "hostile"].includes(values.faults)) {
  process.stderr.write("quickstart: --faults must be none, throttled or hostile\n")
  process.exit(2)
}

const { tsImport } = await import("tsx/esm/api")
const { startEmulator } = await tsImport(
  pathToFileURL(path.join(root, "packages/graph-emulator/src/index.ts")).href,
  import.meta.url
)
const emu = await startEmulator({ generate: spec, faults: values.faults })
const out = path.resolve(values.out)
const organizers = emu.fixture.users.map((u) => u.id)
const starts = emu.fixture.meetings.map((m) => Date.parse(m.startDateTime ?? "")).filter(Number.isFinite)
const day = 86_400_000
const from = new Date(Math.floor(Math.min(...starts) / day) * day).toISOString().replace(".000Z", "Z")
const to = new Date(Math.ceil((Math.max(...starts) + day) / day) * day).toISOString().replace(".000Z", "Z")

process.stderr.write(
  `Graph emulator at ${emu.baseUrl} (faults: ${values.faults}): tenant ${emu.tenantId}, ` +
    `${organizers.length} organizers x ${spec.meetingsPerOrganizer} meetings\n\n`
)
const args = [
  path.join(root, "packages/cli/bin/meeting-artifacts.mjs"),
  "sync",
  ...organizers.flatMap((o) => ["--organizer", o]),
  "--from",
  from,
  "--to",
  to,
  "--out",
  out,
  "--graph-url",
  emu.baseUrl
]
process.stderr.write(
  `$ meeting-artifacts sync --organizer ... --from ${from} --to ${to} --out ${out} --graph-url ${emu.baseUrl}\n\n`
)
const child = spawn(process.execPath, args, {
  stdio: "inherit",
  // The token goes through the environment, never the command line.
  env: { ...process.env, GRAPH_ACCESS_TOKEN: emu.accessToken }
})
const code = await new Promise((resolve) => child.on("close", (c, signal) => resolve(c ?? (signal ? 1 : 0))))
await emu.close()
process.stdout.write(
  `\nOutput: ${out}\n` +
    `  ${path.join(out, "manifest.jsonl")}  (one line per recording/transcript pair)\n` +
    `  ${out}/<organizer>/<meeting>/recording-*.mp4, transcript-*.vtt\n` +
    (code === 1 ? `  ${path.join(out, "failures.jsonl")}  (items that failed)\n` : "") +
    `Run it again: completed content is skipped, nothing is downloaded twice.\n` +
    `\nSee it in a browser (recordings with synced transcripts, search, run history):\n` +
    `  pnpm exec meeting-artifacts view --out ${/^[\w./:@+-]+$/.test(out) ? out : JSON.stringify(out)}\n`
)
process.exit(code)
