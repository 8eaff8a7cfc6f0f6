/**
 * What a hostile or careless user (or tenant) can feed the CLI, and what it
 * must answer: one line on stderr and exit 2 for anything unusable, nothing
 * but the summary on stdout, no password echoed, no terminal control sequence
 * from Graph ids, no write through a symbolic link planted in `--out`, a plain
 * `http://` Graph only on loopback or when asked for, and one recovery path
 * for a damaged manifest that `verify` and `sync` both give and that works.
 */
import { type RunningEmulator, startEmulator, type TenantFixture } from "@meeting-artifacts/graph-emulator"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, expectedArtifacts, listFiles, organizerArgs, runCli, tempDir, verifyOutput } from "./helpers.js"

const WINDOW = ["--from", "2024-01-01T00:00:00Z", "--to", "2024-03-01T00:00:00Z"]
const lines = (text: string) => text.split("\n").filter((l) => l.trim() !== "")
/** Exit 2, nothing on stdout, exactly one line on stderr (returned). */
const expectOneLineFatal = (r: { code: number | null; stdout: string; stderr: string }): string => {
  expect(r.code, r.stderr).toBe(2)
  expect(r.stdout).toBe("")
  expect(lines(r.stderr), r.stderr).toHaveLength(1)
  expect(r.stderr).not.toMatch(/\bat .*\.(js|ts|mjs):\d+/) // no stack frame
  return r.stderr
}

describe("bad input", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 3, seed: 11, recordingBytes: [4096, 16384], cues: [2, 4] }
    })
  })
  afterAll(() => emu?.close())
  const args = (out: string, extra: Array<string> = [], graphUrl = emu.baseUrl) => [
    "sync",
    ...organizerArgs(emu.fixture),
    ...WINDOW,
    "--out",
    out,
    "--graph-url",
    graphUrl,
    ...extra
  ]
  const env = () => cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })

  it("a token with a line break: one line, exit 2, no request sent, stdout empty under --json", async () => {
    emu.resetCounters()
    const r = await runCli(args(path.join(tempDir(), "out"), ["--json"]), {
      env: cleanEnv({ GRAPH_ACCESS_TOKEN: `${emu.accessToken}\nx` })
    })
    expect(expectOneLineFatal(r)).toMatch(/GRAPH_ACCESS_TOKEN contains whitespace or a control character/)
    expect(emu.counters().total).toBe(0)
  })

  it("--state or a sqlite: sink that is not SQLite, and a damaged state.sqlite: one line, exit 2, stdout empty", async () => {
    const root = tempDir()
    const notDb = path.join(root, "notes.txt")
    fs.writeFileSync(notDb, "these are my notes, not a database\n".repeat(100))
    const before = fs.readFileSync(notDb)
    expect(expectOneLineFatal(await runCli(args(path.join(root, "a"), ["--json", "--state", notDb]), { env: env() })))
      .toContain(`cannot open ${notDb}: it is not a SQLite database`)
    expect(
      expectOneLineFatal(
        await runCli(args(path.join(root, "b"), ["--json", "--sink", `sqlite:${notDb}`]), { env: env() })
      )
    )
      .toContain(`cannot open ${notDb}: it is not a SQLite database`)
    expect(fs.readFileSync(notDb)).toEqual(before)

    // A real state file, then pages of it overwritten.
    const out = path.join(root, "c")
    expect((await runCli(args(out), { env: env() })).code).toBe(0)
    const state = path.join(out, ".meeting-artifacts", "state.sqlite")
    const fd = fs.openSync(state, "r+")
    fs.writeSync(fd, Buffer.alloc(8192, 0xff), 0, 8192, 4096)
    fs.writeSync(fd, Buffer.alloc(40, 0), 0, 40, 60)
    fs.closeSync(fd)
    expect(expectOneLineFatal(await runCli(args(out, ["--json"]), { env: env() }))).toMatch(/state\.sqlite|checkpoint/)
  })

  it("a password in --graph-url is never echoed", async () => {
    const out = path.join(tempDir(), "out")
    for (
      const url of [
        "http://alice:s3cret-pw@127.0.0.1:9/v1.0#x",
        "ftp://alice:s3cret-pw@127.0.0.1:9/v1.0",
        "http://alice:s3cret-pw@graph.example.com/v1.0"
      ]
    ) {
      const line = expectOneLineFatal(await runCli(args(out, [], url), { env: env() }))
      expect(line).not.toContain("s3cret-pw")
      expect(line).toContain("alice:***@")
    }
  })

  it("plain http:// to a host other than loopback is refused unless --allow-insecure-http", async () => {
    const out = path.join(tempDir(), "out")
    const line = expectOneLineFatal(await runCli(args(out, [], "http://graph.example.invalid/v1.0"), { env: env() }))
    expect(line).toMatch(/unencrypted.*--allow-insecure-http/)
    expect(fs.existsSync(out)).toBe(false)
    // Opting in gets past the check: the run goes on to open its state (here a file that is not SQLite,
    // so it stops there at once instead of trying to reach the host).
    const notDb = path.join(tempDir(), "notes.txt")
    fs.writeFileSync(notDb, "not a database\n".repeat(100))
    const optedIn = await runCli(
      args(out, ["--allow-insecure-http", "--state", notDb], "http://graph.example.invalid/v1.0"),
      { env: env() }
    )
    expect(expectOneLineFatal(optedIn)).toContain("not a SQLite database")
  })

  it("a symbolic link planted inside --out is not followed: exit 2 naming it, nothing written outside; verify flags it", async () => {
    const root = tempDir()
    const out = path.join(root, "out")
    const elsewhere = path.join(root, "elsewhere")
    // Where the organizer's folder will be, a link to a folder outside --out.
    const reference = path.join(root, "reference")
    expect((await runCli(args(reference), { env: env() })).code).toBe(0)
    const organizerDir = fs.readdirSync(reference).find((n) => n.includes("~"))!
    fs.mkdirSync(out, { recursive: true })
    fs.mkdirSync(elsewhere)
    fs.symlinkSync(elsewhere, path.join(out, organizerDir))
    const r = await runCli(args(out), { env: env() })
    expect(r.code, r.stderr).toBe(2)
    expect(r.stdout).toBe("")
    expect(r.stderr).toContain(`symbolic link ${organizerDir}`)
    expect(fs.readdirSync(elsewhere)).toEqual([])

    // An intact export whose organizer folder was moved out and linked back: verify reports it.
    const copy = path.join(root, "copy")
    fs.cpSync(reference, copy, { recursive: true })
    fs.renameSync(path.join(copy, organizerDir), path.join(root, "moved"))
    fs.symlinkSync(path.join(root, "moved"), path.join(copy, organizerDir))
    const v = await runCli(["verify", "--out", copy, "--json"], { env: env() })
    expect(v.code, v.stderr).toBe(1)
    const report = JSON.parse(v.stdout)
    expect(report.problems).toContainEqual(
      expect.objectContaining({ problem: "symlink", kind: "out", path: organizerDir })
    )
  })

  it("verify of a folder whose manifest.jsonl is a directory: exit 2, one line", async () => {
    const out = tempDir()
    fs.mkdirSync(path.join(out, "manifest.jsonl"))
    const r = await runCli(["verify", "--out", out], { env: env() })
    expect(expectOneLineFatal(r)).toContain("manifest.jsonl is not a file")
  })

  it("a damaged manifest line: verify and sync give the same short advice, and following it recovers without downloading again", async () => {
    const out = path.join(tempDir(), "out")
    expect((await runCli(args(out), { env: env() })).code).toBe(0)
    const file = path.join(out, "manifest.jsonl")
    const text = fs.readFileSync(file, "utf8").split("\n")
    // the first line cut in the middle (as a copy interrupted mid-file leaves it), the rest intact
    fs.writeFileSync(file, [text[0]!.slice(0, 50), ...text.slice(1)].join("\n"))

    const v = await runCli(["verify", "--out", out, "--json"], { env: env() })
    expect(v.code, v.stderr).toBe(1)
    const advice = JSON.parse(v.stdout).problems.find((p: { problem: string }) => p.problem === "invalid")
      .detail as string
    expect(advice).toContain("move manifest.jsonl aside and run sync again without --incremental")

    const s = await runCli(args(out), { env: env() })
    const line = expectOneLineFatal(s)
    expect(line).toContain("move manifest.jsonl aside and run sync again without --incremental")
    expect(line.length).toBeLessThan(400)
    expect(line).not.toMatch(/readonly|Struct|\{ /) // no schema

    emu.resetCounters()
    fs.renameSync(file, path.join(out, "..", "manifest.damaged"))
    const again = await runCli(args(out), { env: env() })
    expect(again.code, again.stderr).toBe(0)
    expect(Object.values(emu.counters().contentRequests).reduce((a, b) => a + b, 0)).toBe(0)
    expect((await runCli(["verify", "--out", out], { env: env() })).code).toBe(0)
  })
})

describe("ids with terminal control sequences", () => {
  let emu: RunningEmulator
  const evil = "\u001b]0;pwned\u0007\u001b[2J\nFAKE downloaded everything\r\u009b31m"
  const fixture: TenantFixture = {
    tenantId: "8a0b6a3e-1f3c-4a55-9d7e-0c1f4b3a2d10",
    users: [{ id: "u-esc", displayName: "Esc" }],
    meetings: [{
      id: `meeting${evil}`,
      organizerId: "u-esc",
      joinWebUrl: "https://teams.microsoft.com/l/meetup-join/esc",
      startDateTime: "2024-01-10T10:00:00Z",
      endDateTime: "2024-01-10T11:00:00Z",
      recordings: [{
        id: `rec${evil}`,
        createdDateTime: "2024-01-10T10:00:05Z",
        endDateTime: "2024-01-10T10:50:00Z",
        content: { bytes: 2048, seed: 3 }
      }],
      transcripts: [{
        id: `tr${evil}`,
        createdDateTime: "2024-01-10T10:00:05Z",
        endDateTime: "2024-01-10T10:50:00Z",
        content: { text: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v A>hi</v>\n" }
      }]
    }]
  } as unknown as TenantFixture
  beforeAll(async () => {
    emu = await startEmulator({ fixture })
  })
  afterAll(() => emu?.close())

  it("progress lines and verify's report show them escaped: no ESC, BEL, C1 or forged line reaches the terminal", async () => {
    const out = path.join(tempDir(), "out")
    const r = await runCli(["sync", "--organizer", "u-esc", ...WINDOW, "--out", out, "--graph-url", emu.baseUrl], {
      env: cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
    })
    expect(r.code, r.stderr).toBe(0)
    expect(verifyOutput(out, expectedArtifacts(fixture))).toEqual([])
    for (const text of [r.stderr, r.stdout]) {
      expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/)
      expect(lines(text).some((l) => l.startsWith("FAKE"))).toBe(false)
    }
    expect(r.stderr).toContain("rec\\x1b]0;pwned\\x07\\x1b[2J\\nFAKE downloaded everything\\r\\x9b31m")
    // verify's human report of a damaged file names the id, escaped too
    const manifest = fs.readFileSync(path.join(out, "manifest.jsonl"), "utf8")
    const recPath = JSON.parse(manifest.split("\n")[0]!).recording.path as string
    fs.appendFileSync(path.join(out, recPath), "x")
    const v = await runCli(["verify", "--out", out], { env: cleanEnv({}) })
    expect(v.code).toBe(1)
    expect(v.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/)
    expect(v.stdout).toContain("rec\\x1b]0;pwned")
    expect(listFiles(out).every((f) => !/[\u0000-\u001f]/.test(f))).toBe(true)
  })
})
