/**
 * A plain `sync`'s run is one CommonJS script read through V8's code cache (packages/cli
 * src/internal/cachedBundle.ts): the first run after a build leaves `<script>.cache` beside it and later
 * ones read it; a cache V8 rejects is replaced; a cache that cannot be written costs nothing (no error,
 * nothing on stderr); and the packages the script leaves outside it (here the Parquet sink's driver)
 * still load, as ES modules, with a `--log-format json` stderr that stays all JSON.
 *
 * Each case runs a copy of the built dist/ under packages/cli/.tmp/ (the same node_modules folders as
 * dist/, and a cache of its own: other files' runs of the shared dist are left alone).
 */
import { type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, collect, repoRoot, syncArgs, tempDir, WINDOW_ARGS } from "./helpers.js"
import { spawn } from "node:child_process"

const cliRoot = path.join(repoRoot, "packages", "cli")

/** A copy of the built dist/ (no cache in it); its bin.js and the sync script's cache file. */
const copyOfDist = () => {
  const scratch = path.join(cliRoot, ".tmp")
  fs.mkdirSync(scratch, { recursive: true })
  const dist = path.join(fs.mkdtempSync(path.join(scratch, "code-cache-")), "dist")
  fs.cpSync(path.join(cliRoot, "dist"), dist, { recursive: true, filter: (p) => !p.endsWith(".cache") })
  // the script this build's bin.js loads (older builds' stay beside it for a while)
  const script = /"\.\/chunks\/(sync-[0-9a-f]+\.cjs)"/.exec(fs.readFileSync(path.join(dist, "bin.js"), "utf8"))?.[1]
  expect(script).toBeDefined()
  return { dist, bin: path.join(dist, "bin.js"), cache: path.join(dist, "chunks", `${script}.cache`) }
}

/**
 * stderr of a run with `--log-format json`: every line JSON (no warning or error text of Node's or the
 * loader's in between), none about the cache, none an error.
 */
const expectJsonStderr = (stderr: string, what = "") => {
  const lines = stderr.split("\n").filter((l) => l !== "")
  expect(lines.length, what).toBeGreaterThan(0)
  for (const line of lines) {
    expect(() => JSON.parse(line), `${what}: ${line}`).not.toThrow()
    expect(line, what).not.toMatch(/\.cache\b|\.tmp\b|warning|"level":"(error|fatal)"/i)
  }
}

const bytesAndTime = (file: string) => ({ bytes: fs.readFileSync(file), mtimeMs: fs.statSync(file).mtimeMs })

describe("plain sync's code cache", () => {
  let emu: RunningEmulator
  const copies: Array<string> = []
  beforeAll(async () => {
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 2, seed: 23, recordingBytes: 2048, cues: [2, 2] }
    })
  })
  afterAll(() => {
    emu?.close()
    for (const d of copies) fs.rmSync(path.dirname(d), { recursive: true, force: true })
  })

  /** A sync of the tenant into a new folder, its summary on stdout and its log as JSON lines on stderr. */
  const sync = async (bin: string, extra: ReadonlyArray<string> = [], env: Record<string, string> = {}) => {
    const root = tempDir("ma-compiled-")
    const args = [bin, ...syncArgs(emu, path.join(root, "out")), "--json", "--log-format", "json", ...extra]
    const r = await collect(spawn(process.execPath, args, {
      cwd: root,
      env: cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken, ...env }),
      stdio: ["ignore", "pipe", "pipe"]
    }))
    return { ...r, root }
  }
  const fresh = () => {
    const copy = copyOfDist()
    copies.push(copy.dist)
    return copy
  }

  it("the first run writes the cache whole; the next one reads it (and leaves it as it was)", async () => {
    const { bin, cache, dist } = fresh()
    const first = await sync(bin)
    expect(first.code, first.stderr).toBe(0)
    expectJsonStderr(first.stderr)
    const written = bytesAndTime(cache)
    expect(written.bytes.length).toBeGreaterThan(100_000)
    // no temp file left beside it
    expect(fs.readdirSync(path.join(dist, "chunks")).filter((n) => n.endsWith(".tmp"))).toEqual([])
    const second = await sync(bin)
    expect(second.code, second.stderr).toBe(0)
    expect(JSON.parse(second.stdout)).toMatchObject({ failures: 0 })
    // accepted by V8: a rejected (or absent) cache would have been written again at exit
    const after = bytesAndTime(cache)
    expect(after.mtimeMs).toBe(written.mtimeMs)
    expect(after.bytes.equals(written.bytes)).toBe(true)
  })

  it("a cache V8 rejects is run around and replaced by a good one", async () => {
    const { bin, cache } = fresh()
    const garbage = Buffer.alloc(64 * 1024, 7)
    fs.writeFileSync(cache, garbage)
    const r = await sync(bin)
    expect(r.code, r.stderr).toBe(0)
    expectJsonStderr(r.stderr)
    const replaced = bytesAndTime(cache)
    expect(replaced.bytes.equals(garbage)).toBe(false)
    const again = await sync(bin)
    expect(again.code, again.stderr).toBe(0)
    // the replacement is accepted: not written again
    expect(bytesAndTime(cache).mtimeMs).toBe(replaced.mtimeMs)
  })

  it("a cache that cannot be written costs nothing: same run, nothing on stderr, no temp file left", async () => {
    const { bin, cache, dist } = fresh()
    // (tests run as root here, so a read-only folder is not read-only: a folder in the cache's place
    // makes both its read and its rename fail, as a read-only install would)
    fs.mkdirSync(cache)
    fs.writeFileSync(path.join(cache, "occupied"), "")
    const r = await sync(bin)
    expect(r.code, r.stderr).toBe(0)
    expectJsonStderr(r.stderr)
    expect(JSON.parse(r.stdout)).toMatchObject({ failures: 0 })
    expect(fs.statSync(cache).isDirectory()).toBe(true)
    expect(fs.readdirSync(path.join(dist, "chunks")).filter((n) => n.endsWith(".tmp"))).toEqual([])
  })

  it("--log-format json with a sink whose driver is a package of its own: it loads, stderr is all JSON", async () => {
    const { bin, cache } = fresh()
    // once to write the cache, once reading it
    for (const round of ["compiled", "cached"]) {
      const parquet = path.join(tempDir("ma-compiled-parquet-"), "records")
      const r = await sync(bin, ["--sink", `parquet:${parquet}`])
      expect(r.code, `${round}: ${r.stderr}`).toBe(0)
      expectJsonStderr(r.stderr, round)
      // the driver loaded and wrote the run's row
      expect(fs.readdirSync(path.join(parquet, "runs")).filter((n) => n.endsWith(".parquet")), round).toHaveLength(1)
      expect(fs.existsSync(cache), round).toBe(true)
    }
  })

  it("the script holds one export: --tenants runs as modules (no cache), and nothing of the tenants file or the cluster is in it", async () => {
    const { bin, cache } = fresh()
    const script = fs.readFileSync(cache.replace(/\.cache$/, ""), "utf8")
    for (const name of ["runTenants", "loadTenants", "runClusterSync", "clusterSync"]) {
      expect(script.includes(name), name).toBe(false)
    }
    const root = tempDir("ma-compiled-tenants-")
    const tenants = path.join(root, "tenants.json")
    fs.writeFileSync(
      tenants,
      JSON.stringify({
        tenants: [{
          name: "a",
          tenantId: emu.tenantId,
          clientId: "00000000-0000-4000-8000-00000000000a",
          credential: { accessTokenEnv: "TOKEN_A" },
          graphUrl: emu.baseUrl,
          organizers: emu.fixture.users.map((u) => u.id)
        }]
      })
    )
    const out = path.join(root, "out")
    const args = [bin, "sync", "--tenants", tenants, ...WINDOW_ARGS, "--out", out, "--json", "--log-format", "json"]
    const r = await collect(spawn(process.execPath, args, {
      cwd: root,
      env: cleanEnv({ TOKEN_A: emu.accessToken }),
      stdio: ["ignore", "pipe", "pipe"]
    }))
    expect(r.code, r.stderr).toBe(0)
    expectJsonStderr(r.stderr)
    expect(fs.existsSync(path.join(out, "a", "manifest.jsonl"))).toBe(true)
    expect(fs.existsSync(cache)).toBe(false)
  })

  it("with --enable-source-maps the run is the ES module chunk (Node maps no vm script): no cache", async () => {
    const { bin, cache } = fresh()
    const r = await sync(bin, [], { NODE_OPTIONS: "--enable-source-maps" })
    expect(r.code, r.stderr).toBe(0)
    expectJsonStderr(r.stderr)
    expect(fs.existsSync(cache)).toBe(false)
  })
})
