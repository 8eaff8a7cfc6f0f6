/**
 * What the sync benchmarks share: running the real CLI (`packages/cli/bin/meeting-artifacts.mjs`, the
 * bundle it builds on first start) as a child under `/usr/bin/time -v`, which reports the child's CPU
 * time (user + sys) and peak RSS once it exits.
 */
import * as NodeChild from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

export const cliBin = NodePath.resolve(
  NodePath.dirname(fileURLToPath(import.meta.url)),
  "../../packages/cli/bin/meeting-artifacts.mjs"
)

/** Rebuilds the CLI's bundle when a source changed, so a benchmark measures the sources as they are. */
export const buildCliIfStale = async (): Promise<void> => {
  const script = NodePath.join(NodePath.dirname(cliBin), "../scripts/build-bin.mjs")
  const { buildBin } = await import(pathToFileURL(script).href)
  await buildBin({ ifStale: true })
}

const TIME = "/usr/bin/time"

export interface ChildRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  /** wall time of the whole process, seconds */
  readonly seconds: number
  /** user + sys CPU of the child, seconds (NaN without /usr/bin/time) */
  readonly cpuSeconds: number
  /** the sys part of cpuSeconds */
  readonly sysSeconds: number
  /** peak RSS of the child, MB (NaN without /usr/bin/time) */
  readonly peakMb: number
}

/** An environment without ambient Azure/Graph credentials, plus `extra`. */
export const cleanEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^(AZURE_|GRAPH_|MSI_|IDENTITY_)/.test(k)) env[k] = v
  return { ...env, ...extra }
}

/** Runs `command args` (under `/usr/bin/time -v` when there is one) and collects what it printed and used. */
export const runMeasured = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly env?: NodeJS.ProcessEnv; readonly stdin?: string } = {}
): Promise<ChildRun> =>
  new Promise((resolve, reject) => {
    const timed = NodeFs.existsSync(TIME)
    const started = performance.now()
    const p = NodeChild.spawn(timed ? TIME : command, timed ? ["-v", command, ...args] : [...args], {
      env: options.env ?? process.env,
      stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    p.stdout!.on("data", (d) => (stdout += String(d)))
    p.stderr!.on("data", (d) => (stderr += String(d)))
    p.on("error", reject)
    p.on("close", (code) => {
      const seconds = (performance.now() - started) / 1000
      const field = (label: string) => Number(new RegExp(`${label}[^:]*:\\s*([0-9.]+)`).exec(stderr)?.[1] ?? NaN)
      const cpuSeconds = field("User time") + field("System time")
      const peakMb = field("Maximum resident set size") / 1024
      // what the child itself wrote, without time's report
      const own = timed ? stderr.slice(0, Math.max(0, stderr.lastIndexOf("\tCommand being timed"))) : stderr
      resolve({ code, stdout, stderr: own, seconds, cpuSeconds, sysSeconds: field("System time"), peakMb })
    })
    if (options.stdin !== undefined) p.stdin!.end(options.stdin)
  })

/** Runs the CLI with `args`, the bearer token in GRAPH_ACCESS_TOKEN (never on a command line). */
export const runCli = (
  args: ReadonlyArray<string>,
  token: string,
  nodeFlags: ReadonlyArray<string> = [],
  bin: string = cliBin
): Promise<ChildRun> =>
  runMeasured(process.execPath, [...nodeFlags, bin, ...args], { env: cleanEnv({ GRAPH_ACCESS_TOKEN: token }) })

/** Prints PASS or FAIL and sets the exit code to match. */
export const verdict = (ok: boolean): void => {
  console.log(ok ? "PASS" : "FAIL")
  process.exitCode = ok ? 0 : 1
}

/** Runs a benchmark's `main`: a thrown error is one line on stderr and exit code 1. */
export const runBench = (main: () => Promise<void>): void => {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : String(e))
    process.exit(1)
  })
}
