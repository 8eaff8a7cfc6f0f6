/**
 * The packages as a user gets them, outside this workspace: every package built and packed
 * (`pnpm -r pack`), the tarballs installed with npm into a fresh project in a temp folder (no pnpm, no
 * tsx, no workspace links, none of the optional drivers), then
 * - the `meeting-artifacts` bin (`npx`): --version, the emulator from the installed package, a sync
 *   against it and a verify of what it wrote;
 * - a sink or a `postgres://` state whose optional driver is not installed: exit 2, one line naming the
 *   package to install;
 * - a plain `.mjs` that imports `@meeting-artifacts/pipeline` and runs a sync to completion;
 * - a strict TypeScript consumer type-checked against the shipped `.d.ts` (NodeNext and Bundler).
 *
 * One install serves every assertion. Downloads go through an npm cache under `.tmp/` (`--prefer-offline`).
 * Install scripts are skipped (`--ignore-scripts`: npm 11 skips unapproved ones anyway); the one native
 * addon the default path needs, better-sqlite3, gets the binary this workspace built for the same
 * version and Node (else `npm rebuild` compiles it), which keeps a re-run to the install itself.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, collect, type CliResult, repoRoot, tempDir } from "./helpers.js"

const cacheDir = path.join(repoRoot, ".tmp", "npm-cache")
const work = tempDir("ma-pack-")
const packs = path.join(work, "packs")
const project = path.join(work, "project")
/**
 * The environment of a user's shell: no Graph/Azure credentials, none of the npm_* / pnpm settings that
 * `pnpm test` exports, and no workspace node_modules/.bin on the PATH.
 */
const outsideEnv = (): NodeJS.ProcessEnv => {
  const env = cleanEnv({ npm_config_cache: cacheDir, npm_config_update_notifier: "false", NO_COLOR: "1" })
  for (const key of Object.keys(env)) {
    if (/^(npm_|pnpm_)/i.test(key) && key !== "npm_config_cache" && key !== "npm_config_update_notifier") {
      delete env[key]
    }
  }
  env.PATH = (env.PATH ?? "").split(path.delimiter).filter((p) => !p.includes("node_modules")).join(path.delimiter)
  return env
}
const npmEnv = outsideEnv()

const run = (command: string, args: ReadonlyArray<string>, cwd: string, env = npmEnv): Promise<CliResult> =>
  collect(spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] }))

const must = async (command: string, args: ReadonlyArray<string>, cwd: string): Promise<CliResult> => {
  const r = await run(command, args, cwd)
  if (r.code !== 0) throw new Error(`${command} ${args.join(" ")} exited ${r.code}:\n${r.stdout}\n${r.stderr}`)
  return r
}

/** `npx meeting-artifacts ...` in the fresh project. */
const npx = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  run("npx", ["--no-install", "meeting-artifacts", ...args], project, { ...npmEnv, ...env })

const repoVersion = (pkg: string): string =>
  JSON.parse(fs.readFileSync(path.join(repoRoot, "node_modules", pkg, "package.json"), "utf8")).version

/** The workspace's better-sqlite3 binary when it is the version npm installed (same Node), else a rebuild. */
const provideSqliteBinary = async () => {
  const installed = path.join(project, "node_modules", "better-sqlite3")
  const binary = path.join("build", "Release", "better_sqlite3.node")
  if (fs.existsSync(path.join(installed, binary))) return
  const version = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8")).version
  const local = path.join(
    repoRoot,
    "node_modules",
    ".pnpm",
    `better-sqlite3@${version}`,
    "node_modules",
    "better-sqlite3",
    binary
  )
  if (fs.existsSync(local)) {
    fs.mkdirSync(path.dirname(path.join(installed, binary)), { recursive: true })
    fs.copyFileSync(local, path.join(installed, binary))
  } else {
    await must("npm", ["rebuild", "better-sqlite3", "--allow-scripts=better-sqlite3"], project)
  }
}

interface RunningEmulator {
  readonly child: ChildProcess
  readonly env: Record<string, string>
  readonly organizers: ReadonlyArray<string>
}

/** `npx meeting-artifacts emulator --generate ...`: waits for its KEY=value lines and its organizers. */
const startInstalledEmulator = (): Promise<RunningEmulator> =>
  new Promise((resolve, reject) => {
    // The installed bin under node itself (not npx, whose child would outlive a kill of npx).
    const bin = path.join(project, "node_modules", "@meeting-artifacts", "cli", "bin", "meeting-artifacts.mjs")
    const child = spawn(process.execPath, [
      bin,
      "emulator",
      "--generate",
      "organizers=2,meetings=3,seed=11,bytes=4096-16384"
    ], {
      cwd: project,
      env: npmEnv,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    const check = () => {
      const organizers = /organizers: (\S+)/.exec(stderr)
      const env = Object.fromEntries(
        stdout.split("\n").filter((l) => /^[A-Z_]+=/.test(l)).map((
          l
        ) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)])
      )
      if (organizers && env.GRAPH_BASE_URL && env.GRAPH_ACCESS_TOKEN) {
        resolve({ child, env, organizers: organizers[1]!.split(",") })
      }
    }
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString()
      check()
    })
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString()
      check()
    })
    child.on("error", reject)
    child.on("close", (code) => reject(new Error(`emulator exited ${code}: ${stderr}`)))
  })

/** Every package under packages/ that is not private: each must pack and install. */
const publishedPackages = fs.readdirSync(path.join(repoRoot, "packages")).flatMap((dir) => {
  const file = path.join(repoRoot, "packages", dir, "package.json")
  if (!fs.existsSync(file)) return []
  const manifest = JSON.parse(fs.readFileSync(file, "utf8"))
  return manifest.private === true ? [] : [{ dir, version: String(manifest.version) }]
})

let emulator: RunningEmulator
let cliVersion: string

const syncArgs = (out: string) => [
  "sync",
  ...emulator.organizers.flatMap((o) => ["--organizer", o]),
  "--from",
  "2024-01-01",
  "--to",
  "2024-03-01",
  "--out",
  out,
  "--graph-url",
  emulator.env.GRAPH_BASE_URL!
]
const tokenEnv = () => ({ GRAPH_ACCESS_TOKEN: emulator.env.GRAPH_ACCESS_TOKEN! })

describe("packed packages installed with npm into a fresh project", () => {
  beforeAll(async () => {
    await must("pnpm", ["-r", "run", "build"], repoRoot)
    fs.mkdirSync(packs, { recursive: true })
    await must("pnpm", ["-r", "pack", "--pack-destination", packs], repoRoot)
    const tarballs = fs.readdirSync(packs).filter((f) => f.endsWith(".tgz")).map((f) => path.join(packs, f))
    expect(tarballs.map((t) => path.basename(t)).sort()).toEqual(
      publishedPackages.map((p) => `meeting-artifacts-${p.dir}-${p.version}.tgz`).sort()
    )
    fs.mkdirSync(project)
    fs.writeFileSync(
      path.join(project, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module" })
    )
    await must("npm", [
      "install",
      "--ignore-scripts",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      ...tarballs,
      `typescript@${repoVersion("typescript")}`,
      `@types/node@${repoVersion("@types/node")}`
    ], project)
    await provideSqliteBinary()
    cliVersion =
      JSON.parse(fs.readFileSync(path.join(project, "node_modules/@meeting-artifacts/cli/package.json"), "utf8"))
        .version
    emulator = await startInstalledEmulator()
  }, 1_200_000)

  afterAll(async () => {
    emulator?.child.kill("SIGTERM")
    // Asynchronously: removing a whole node_modules blocks a loaded machine long enough for vitest's
    // worker RPC to time out.
    await fs.promises.rm(work, { recursive: true, force: true })
  })

  it("installs real copies: no workspace links, no tsx, no pnpm, none of the optional drivers", () => {
    const modules = path.join(project, "node_modules")
    for (const { dir: p } of publishedPackages) {
      const dir = path.join(modules, "@meeting-artifacts", p)
      expect(fs.lstatSync(dir).isSymbolicLink(), p).toBe(false)
      expect(fs.existsSync(path.join(dir, "src")), `${p} ships no sources`).toBe(false)
      expect(fs.existsSync(path.join(dir, "LICENSE")), `${p} ships its licence`).toBe(true)
      expect(fs.existsSync(path.join(dir, "README.md")), `${p} ships its README`).toBe(true)
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"))
      expect(manifest.exports["."]).toEqual({ types: "./dist/index.d.ts", import: "./dist/index.js" })
      expect(JSON.stringify(manifest.dependencies ?? {})).not.toContain("workspace:")
    }
    for (
      const absent of ["tsx", "esbuild", "pnpm", "@duckdb/node-api", "pg", "@effect/sql-pg", "@azure/storage-blob"]
    ) {
      expect(fs.existsSync(path.join(modules, absent)), absent).toBe(false)
    }
  })

  it("npx meeting-artifacts --version prints the package's version", async () => {
    const r = await npx(["--version"])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe(cliVersion)
  })

  it("syncs from the installed emulator and verifies the export", async () => {
    const out = path.join(work, "out-cli")
    const synced = await npx(syncArgs(out), tokenEnv())
    expect(synced.code, synced.stderr).toBe(0)
    const lines = fs.readFileSync(path.join(out, "manifest.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
    expect(lines.length).toBeGreaterThan(0)
    expect(lines.some((l) => l.recording !== null)).toBe(true)
    const verified = await npx(["verify", "--out", out, "--json"])
    expect(verified.code, verified.stderr).toBe(0)
    const report = JSON.parse(verified.stdout)
    expect(report.problems).toEqual([])
    expect(report.sets).toBe(lines.length)
  })

  it.each([
    ["--sink", "parquet:PARQUET", "@duckdb/node-api"],
    ["--sink", "azure-blob:exports/meetings", "@azure/storage-blob"],
    ["--sink", "postgres://user:s3cret@127.0.0.1:9/db", "@effect/sql-pg"],
    ["--state", "postgres://user:s3cret@127.0.0.1:9/db", "@effect/sql-pg"]
  ])("%s %s without its optional driver: exit 2, one line naming %s", async (flag, value, pkg) => {
    const out = path.join(work, `out-missing-${pkg.replace(/\W/g, "")}-${flag.slice(2)}`)
    const r = await npx([...syncArgs(out), flag, value.replace("PARQUET", path.join(out, "parquet"))], {
      ...tokenEnv(),
      AZURE_STORAGE_CONNECTION_STRING: "UseDevelopmentStorage=true"
    })
    expect(r.code).toBe(2)
    const lines = r.stderr.trim().split("\n")
    expect(lines, r.stderr).toHaveLength(1)
    expect(lines[0]).toContain(`npm install ${pkg}`)
    expect(r.stderr).not.toContain("s3cret")
  })

  it("a plain .mjs imports @meeting-artifacts/pipeline and runs a sync to completion", async () => {
    const out = path.join(work, "out-library")
    fs.writeFileSync(
      path.join(project, "job.mjs"),
      `import { sync, syncLayer } from "@meeting-artifacts/pipeline"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"

const [baseUrl, token, out, ...organizers] = process.argv.slice(2)
const summary = await Effect.runPromise(
  sync({ organizers, from: "2024-01-01T00:00:00Z", to: "2024-03-01T00:00:00Z", out }).pipe(
    Effect.provide(syncLayer({ out, graph: { baseUrl, credential: Redacted.make(token) } }))
  )
)
console.log(JSON.stringify({ sets: summary.sets, failures: summary.failures, manifest: summary.manifest }))
`
    )
    const r = await run(
      process.execPath,
      ["job.mjs", emulator.env.GRAPH_BASE_URL!, emulator.env.GRAPH_ACCESS_TOKEN!, out, ...emulator.organizers],
      project
    )
    expect(r.code, r.stderr).toBe(0)
    const summary = JSON.parse(r.stdout.trim().split("\n").at(-1)!)
    const lines = fs.readFileSync(path.join(out, "manifest.jsonl"), "utf8").trim().split("\n")
    expect(summary.failures).toBe(0)
    expect(summary.sets).toBe(lines.length)
    expect(lines.length).toBeGreaterThan(0)
  })

  it.each(["NodeNext", "Bundler"])(
    "a strict TypeScript consumer type-checks against the shipped .d.ts (%s)",
    async (resolution) => {
      const dir = path.join(project, `ts-${resolution.toLowerCase()}`)
      fs.mkdirSync(dir, { recursive: true })
      fs.writeFileSync(
        path.join(dir, "consumer.ts"),
        `import { GraphClient, type GraphClientOptions } from "@meeting-artifacts/api"
import { correlate } from "@meeting-artifacts/correlate"
import { type RunSummary, sync, syncLayer, type SyncLayerOptions } from "@meeting-artifacts/pipeline"
import { parseSinkSpecs, type RecordSinkService } from "@meeting-artifacts/sinks"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"

const graph: GraphClientOptions = { baseUrl: "https://graph.microsoft.com/v1.0", credential: Redacted.make("token") }
const options: SyncLayerOptions = { out: "./out", graph }
const specs = parseSinkSpecs(["sqlite:./out/records.sqlite"])
export const program: Effect.Effect<RunSummary, unknown> = sync({
  organizers: ["organizer"],
  from: "2024-01-01T00:00:00Z",
  to: "2024-02-01T00:00:00Z",
  out: "./out"
}).pipe(Effect.provide(syncLayer(options)))
export const sets: number = Effect.runSync(Effect.succeed(correlate([], []).length))
export const sinks: ReadonlyArray<RecordSinkService> = []
export const client = GraphClient
export const parsed = specs
// The declarations resolve to real types, not \`any\`: a wrong use is an error.
// @ts-expect-error: a RunSummary's sets is a number
export const wrong: string = Effect.runSync(Effect.map(program, (s) => s.sets).pipe(Effect.orDie))
`
      )
      const compilerOptions = {
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        noEmit: true,
        // The default of `tsc --init`: AzureBlobSink's declarations name @azure/storage-blob's types, an
        // optional peer this project does not install.
        skipLibCheck: true,
        target: "ES2022",
        lib: ["ES2022"],
        types: ["node"],
        ...(resolution === "NodeNext"
          ? { module: "NodeNext", moduleResolution: "NodeNext" }
          : { module: "ESNext", moduleResolution: "Bundler" })
      }
      fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["consumer.ts"] }))
      const r = await run(process.execPath, [path.join(project, "node_modules/typescript/bin/tsc"), "-p", dir], dir)
      expect(r.stdout + r.stderr).toBe("")
      expect(r.code).toBe(0)
    }
  )
})
