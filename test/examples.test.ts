/**
 * Every example runs with its one command and does what its header says;
 * so does the README's main command (`pnpm sync`, i.e. scripts/quickstart.mjs).
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { cleanEnv, collect, listFiles, readManifest, repoRoot, tempDir } from "./helpers.js"

const examples = path.join(repoRoot, "examples")
const runExample = (file: string, out: string) =>
  collect(
    spawn(process.execPath, ["--import", "tsx", file, out], {
      cwd: examples,
      env: cleanEnv(),
      stdio: ["ignore", "pipe", "pipe"]
    })
  )

describe("examples", () => {
  it("quickstart.ts syncs a generated tenant into the given directory", async () => {
    const out = path.join(tempDir(), "out")
    const r = await runExample("quickstart.ts", out)
    expect(r.code, r.stderr).toBe(0)
    const lines = readManifest(out)
    expect(lines.length).toBeGreaterThan(3)
    for (const l of lines) {
      for (const a of [l.recording, l.transcript]) {
        if (a !== null) expect(fs.statSync(path.join(out, a.path)).size).toBe(a.bytes)
      }
    }
    expect(r.stdout).toContain(path.join(out, "manifest.jsonl"))
  })

  it("nightly.ts fetches only the new recording on the second night, into SQLite and Parquet", async () => {
    const out = path.join(tempDir(), "out")
    const r = await runExample("nightly.ts", out)
    expect(r.code, r.stderr).toBe(0)
    const nights = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
    expect(nights).toHaveLength(2)
    expect(nights[0].downloaded).toBeGreaterThan(5)
    expect(nights[1].downloaded).toBe(1)
    expect(nights.every((n: { failures: number }) => n.failures === 0)).toBe(true)
    expect(fs.statSync(path.join(out, "artifacts.sqlite")).size).toBeGreaterThan(0)
    expect(listFiles(path.join(out, "parquet")).some((f) => f.endsWith(".parquet"))).toBe(true)
  })

  it("custom-sink.ts composes api + correlate + its own Markdown sink", async () => {
    const out = path.join(tempDir(), "minutes")
    const r = await runExample("custom-sink.ts", out)
    expect(r.code, r.stderr).toBe(0)
    const files = r.stdout.split("\n").filter((l) => l.endsWith(".md"))
    expect(files.length).toBeGreaterThan(0)
    for (const f of files) {
      const text = fs.readFileSync(f, "utf8")
      expect(text).toContain("| speaker | talk time (s) | words |")
      expect(text).toMatch(/- \*\*.+\*\*: /)
    }
  })

  it("pnpm sync (scripts/quickstart.mjs) runs the emulator and a sync, then says where the output is and how to view it", async () => {
    const cwd = tempDir()
    const r = await collect(
      spawn(process.execPath, [path.join(repoRoot, "scripts/quickstart.mjs"), "--organizers", "2", "--meetings", "2"], {
        cwd,
        env: cleanEnv(),
        stdio: ["ignore", "pipe", "pipe"]
      })
    )
    expect(r.code, r.stderr).toBe(0)
    const out = path.join(cwd, "out")
    expect(r.stdout).toContain(`Output: ${out}`)
    // And ends with the command that shows it in a browser.
    expect(r.stdout.trimEnd().split("\n").at(-1)).toBe(`  pnpm exec meeting-artifacts view --out ${out}`)
    expect(readManifest(out).length).toBeGreaterThan(0)
    // Nothing but ./out in the working directory.
    expect(fs.readdirSync(cwd)).toEqual(["out"])
  })
})
