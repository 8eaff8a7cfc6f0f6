/**
 * `meeting-artifacts view` over an export a real sync made from the emulator:
 * exactly one `VIEW_URL=http://127.0.0.1:<port>/` line on stdout once it
 * serves, the run the sync recorded in the history with its request counts,
 * every set of the manifest listed, a clean stop (exit 0) on SIGTERM and SIGINT; exit 2 without
 * a manifest.
 */
import { startEmulator } from "@meeting-artifacts/graph-emulator"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, collect, firstLine, runCli, spawnCli, syncArgs, tempDir } from "./helpers.js"

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    socket.on("connect", () => {
      socket.destroy()
      resolve(false)
    })
    socket.on("error", () => resolve(true))
  })

describe("view", () => {
  let out: string
  let sets: number
  beforeAll(async () => {
    const emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 3, seed: 7, recordingBytes: [2048, 4096], cues: [2, 4] }
    })
    try {
      out = path.join(tempDir(), "out")
      const r = await runCli(
        [
          ...syncArgs(emu, out)
        ],
        { env: cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken }) }
      )
      expect(r.code, r.stderr).toBe(0)
      sets = fs.readFileSync(path.join(out, "manifest.jsonl"), "utf8").trim().split("\n").length
    } finally {
      await emu.close()
    }
  }, 90_000)

  it("prints one VIEW_URL line once it serves, shows the export, and stops on SIGTERM", async () => {
    const child = spawnCli(["view", "--out", out, "--port", "0"])
    const done = collect(child)
    const line = await firstLine(child)
    expect(line).toMatch(/^VIEW_URL=http:\/\/127\.0\.0\.1:\d+\/$/)
    const url = line.slice("VIEW_URL=".length)
    const port = Number(new URL(url).port)

    const page = await fetch(url)
    expect(page.status).toBe(200)
    const list = await (await fetch(`${url}api/sets?limit=500`)).json() as { total: number }
    expect(list.total).toBe(sets)
    const history = await (await fetch(`${url}api/runs`)).json() as {
      runs: Array<{ status: string; counts: Record<string, number> }>
    }
    expect(history.runs.length).toBe(1)
    expect(history.runs[0]!.status).toBe("succeeded")
    expect(history.runs[0]!.counts.requests).toBeGreaterThan(0)
    expect(history.runs[0]!.counts.sets).toBe(sets)

    child.kill("SIGTERM")
    const r = await done
    // Exactly one line on stdout, whatever happened on stderr.
    expect(r.stdout).toBe(`${line}\n`)
    // The signal is how a server is meant to stop: exit 0, as for the emulator.
    expect(r.signal).toBe(null)
    expect(r.code).toBe(0)
    expect(await refused(port)).toBe(true)
    // The index stays in the state folder, nowhere else.
    expect(fs.existsSync(path.join(out, ".meeting-artifacts", "view-index.sqlite"))).toBe(true)
  })

  it("--open hands the URL to the platform's opener (xdg-open here)", async () => {
    // A stand-in xdg-open first on PATH records what it was asked to open.
    const bin = tempDir()
    const opened = path.join(bin, "opened.txt")
    fs.writeFileSync(
      path.join(bin, "xdg-open"),
      `#!/bin/sh\nprintf '%s' "$1" > '${opened}.tmp' && mv '${opened}.tmp' '${opened}'\n`,
      { mode: 0o755 }
    )
    const child = spawnCli(["view", "--out", out, "--open"], { env: cleanEnv({ PATH: `${bin}:${process.env.PATH}` }) })
    const done = collect(child)
    const line = await firstLine(child)
    const deadline = Date.now() + 30_000
    while (!fs.existsSync(opened)) {
      if (Date.now() > deadline) throw new Error("xdg-open was never called")
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(`VIEW_URL=${fs.readFileSync(opened, "utf8")}`).toBe(line)
    child.kill("SIGINT")
    const r = await done
    expect(r.stdout).toBe(`${line}\n`)
    expect(r.code).toBe(0)
  })

  it("exit 2 with one line on stderr for a folder without a manifest", async () => {
    const r = await runCli(["view", "--out", tempDir()])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe("")
    expect(r.stderr.trim().split("\n").length).toBe(1)
    expect(r.stderr).toContain("manifest.jsonl")
    // The run history comes from a SQLite state file only.
    const pg = await runCli(["view", "--out", out, "--state", "postgres://localhost/state"])
    expect(pg.code).toBe(2)
    expect(pg.stderr).toContain("Postgres")
  })
})
