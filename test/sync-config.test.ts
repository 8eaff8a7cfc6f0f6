/**
 * Where `sync` takes its settings from, through the real binary against the emulator: flags, the
 * environment (MEETING_ARTIFACTS_*, GRAPH_BASE_URL, GRAPH_ACCESS_TOKEN, DATABASE_URL) and a
 * --config file, with precedence flag > environment > file > default; and one-line exit-2 errors
 * for bad values wherever they come from.
 */
import { type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import { defaultPolicy } from "@meeting-artifacts/api"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startPostgres } from "../packages/sinks/test/support/servers.js"
import { cleanEnv, runCli, tempDir } from "./helpers.js"

let emu: RunningEmulator
let organizers: Array<string>

beforeAll(async () => {
  emu = await startEmulator({
    generate: { organizers: 2, meetingsPerOrganizer: 2, seed: 23, recordingBytes: 2048, cues: [2, 3] }
  })
  organizers = [...new Set(emu.fixture.meetings.map((m) => m.organizerId))]
})
afterAll(() => emu?.close())

const write = (dir: string, name: string, text: string) => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, text)
  return file
}

describe("sync settings from flags, environment and --config", () => {
  it("takes every setting from the environment alone (GRAPH_BASE_URL as the emulator prints it)", async () => {
    const root = tempDir()
    const out = path.join(root, "out")
    const r = await runCli(["sync"], {
      env: cleanEnv({
        GRAPH_BASE_URL: emu.baseUrl,
        GRAPH_ACCESS_TOKEN: emu.accessToken,
        MEETING_ARTIFACTS_ORGANIZER: organizers.join(","),
        MEETING_ARTIFACTS_FROM: "2024-01-01",
        MEETING_ARTIFACTS_TO: "2024-03-01",
        MEETING_ARTIFACTS_OUT: out,
        MEETING_ARTIFACTS_JSON: "true"
      })
    })
    expect(r.code, r.stderr).toBe(0)
    const summary = JSON.parse(r.stdout)
    expect(summary.organizers).toBe(organizers.length)
    expect(summary.out).toBe(out)
    expect(fs.existsSync(path.join(out, "manifest.jsonl"))).toBe(true)
  })

  it("flag > environment > config file (YAML and JSON) > default, value by value", async () => {
    const root = tempDir()
    const dirs = {
      file: path.join(root, "from-file"),
      env: path.join(root, "from-env"),
      flag: path.join(root, "from-flag")
    }
    const yaml = write(
      root,
      "settings.yaml",
      [
        "# a nightly job's settings",
        `organizer: [${organizers.join(", ")}]`,
        "from: 2024-01-01",
        "to: '2024-03-01'",
        `out: ${dirs.file}`,
        `graph-url: ${emu.baseUrl}`,
        "dry-run: true",
        "json: true",
        "concurrency: 2"
      ].join("\n")
    )
    const json = write(
      root,
      "settings.json",
      JSON.stringify({
        organizer: organizers,
        from: "2024-01-01",
        to: "2024-03-01",
        out: dirs.file,
        "graph-url": emu.baseUrl,
        "dry-run": true,
        json: true
      })
    )
    const env = (extra: Record<string, string> = {}) => cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken, ...extra })
    const [fromYaml, fromJson, fromEnv, fromFlag, configFromEnv] = await Promise.all([
      runCli(["sync", "--config", yaml], { env: env() }),
      runCli(["sync", "--config", json], { env: env() }),
      runCli(["sync", "--config", yaml], { env: env({ MEETING_ARTIFACTS_OUT: dirs.env }) }),
      runCli(["sync", "--config", yaml, "--out", dirs.flag], { env: env({ MEETING_ARTIFACTS_OUT: dirs.env }) }),
      runCli(["sync"], { env: env({ MEETING_ARTIFACTS_CONFIG: json }) })
    ])
    for (const r of [fromYaml, fromJson, fromEnv, fromFlag, configFromEnv]) expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(fromYaml.stdout)).toMatchObject({ out: dirs.file, dryRun: true, organizers: organizers.length })
    expect(JSON.parse(fromJson.stdout)).toMatchObject({ out: dirs.file, dryRun: true })
    expect(JSON.parse(fromEnv.stdout).out).toBe(dirs.env)
    expect(JSON.parse(fromFlag.stdout).out).toBe(dirs.flag)
    expect(JSON.parse(configFromEnv.stdout).out).toBe(dirs.file)
    // A dry run writes nothing, wherever --out came from.
    expect(fs.readdirSync(root).sort()).toEqual(["settings.json", "settings.yaml"])
  })

  it("a list given as a flag replaces the environment's, it does not add to it", async () => {
    const r = await runCli(
      [
        "sync",
        "--organizer",
        organizers[0]!,
        "--from",
        "2024-01-01",
        "--to",
        "2024-03-01",
        "--out",
        tempDir(),
        "--dry-run",
        "--json"
      ],
      {
        env: cleanEnv({
          GRAPH_BASE_URL: emu.baseUrl,
          GRAPH_ACCESS_TOKEN: emu.accessToken,
          MEETING_ARTIFACTS_ORGANIZER: organizers.join(",")
        })
      }
    )
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout).organizers).toBe(1)
  })

  it("--rate paces the run: with the default burst, N requests at 4/s take at least (N - burst - 1) / 4 seconds", async () => {
    const big = await startEmulator({
      generate: { organizers: 2, meetingsPerOrganizer: 6, seed: 5, recordingBytes: 1024, cues: [1, 2] }
    })
    const r = await runCli(
      [
        "sync",
        ...[...new Set(big.fixture.meetings.map((m) => m.organizerId))].flatMap((o) => ["--organizer", o]),
        "--from",
        "2024-01-01",
        "--to",
        "2024-03-01",
        "--out",
        tempDir(),
        "--json",
        "--rate",
        "4"
      ],
      { env: cleanEnv({ GRAPH_BASE_URL: big.baseUrl, GRAPH_ACCESS_TOKEN: big.accessToken }) }
    ).finally(() => big.close())
    expect(r.code, r.stderr).toBe(0)
    const summary = JSON.parse(r.stdout)
    expect(summary.requests).toBeGreaterThan(20)
    // A lower bound only: a loaded machine makes the run slower, never faster.
    expect(summary.elapsedMs).toBeGreaterThanOrEqual(((summary.requests - defaultPolicy.burst - 1) / 4) * 1000 * 0.9)
  })

  // The parsing rules themselves are unit-tested (packages/cli/test/Flags.test.ts); these go through the binary.
  it("bad values exit 2 with one line naming where they came from, before any request", async () => {
    emu.resetCounters()
    const root = tempDir()
    const base = [
      "sync",
      "--organizer",
      "o",
      "--from",
      "2024-01-01",
      "--to",
      "2024-03-01",
      "--out",
      path.join(root, "out")
    ]
    const env = (extra: Record<string, string>) =>
      cleanEnv({ GRAPH_BASE_URL: emu.baseUrl, GRAPH_ACCESS_TOKEN: emu.accessToken, ...extra })
    const unknownKey = write(root, "typo.yaml", "organiser: [a]\n")
    const broken = write(root, "broken.json", "{\"state\": \"postgres://u:hunter2@db/x\",")
    const cases: Array<[string, Array<string>, NodeJS.ProcessEnv, RegExp]> = [
      [
        "env out of range",
        base,
        env({ MEETING_ARTIFACTS_CONCURRENCY: "100" }),
        /--concurrency \(from MEETING_ARTIFACTS_CONCURRENCY\) must be an integer from 1 to 64, got 100/
      ],
      ["flag out of range", [...base, "--rate", "0"], env({}), /--rate must be a positive number, got 0/],
      ["unknown file key", [...base, "--config", unknownKey], env({}), /typo\.yaml: unknown key "organiser"/],
      ["broken file", [...base, "--config", broken], env({}), /broken\.json: not valid JSON/],
      [
        "required",
        ["sync", "--organizer", "o", "--from", "2024-01-01", "--to", "2024-03-01"],
        env({}),
        /--out <dir> is required \(or MEETING_ARTIFACTS_OUT/
      ],
      ["empty token", base, env({ GRAPH_ACCESS_TOKEN: "" }), /GRAPH_ACCESS_TOKEN is set but empty/],
      [
        "token with a line break",
        base,
        env({ GRAPH_ACCESS_TOKEN: "abc\ndef" }),
        /GRAPH_ACCESS_TOKEN contains whitespace or a control character/
      ]
    ]
    const results = await Promise.all(cases.map(([, args, e]) => runCli(args, { env: e })))
    results.forEach((r, i) => {
      const [name, , , message] = cases[i]!
      expect(r.code, `${name}: ${r.stderr}`).toBe(2)
      expect(r.stdout, name).toBe("")
      expect(r.stderr.trim().split("\n"), name).toHaveLength(1)
      expect(r.stderr, name).toMatch(message)
      expect(r.stderr, name).not.toMatch(/hunter2|abc/)
    })
    expect(emu.counters().total).toBe(0)
    expect(fs.existsSync(path.join(root, "out"))).toBe(false)
  }, 180_000)

  it("`--state postgres` takes DATABASE_URL from the environment, and never prints its password", async () => {
    // A closed port: the URL is used (the error is Postgres's), and its password stays out of the output.
    const r = await runCli(
      [
        "sync",
        "--organizer",
        "o",
        "--from",
        "2024-01-01",
        "--to",
        "2024-03-01",
        "--out",
        tempDir(),
        "--state",
        "postgres"
      ],
      {
        env: cleanEnv({
          GRAPH_BASE_URL: emu.baseUrl,
          GRAPH_ACCESS_TOKEN: emu.accessToken,
          DATABASE_URL: "postgres://alice:hunter2@127.0.0.1:1/db"
        })
      }
    )
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/postgres/i)
    expect(`${r.stdout}${r.stderr}`).not.toContain("hunter2")
  }, 120_000)

  it("`--state postgres --sink postgres` with only PG* variables: no URL or password on the command line", async () => {
    const pg = await startPostgres()
    try {
      const url = new URL(pg.url)
      const pgEnv: Record<string, string> = {
        PGHOST: url.hostname,
        PGPORT: url.port,
        PGUSER: decodeURIComponent(url.username),
        PGDATABASE: url.pathname.slice(1),
        ...(url.password !== "" ? { PGPASSWORD: decodeURIComponent(url.password) } : {})
      }
      const out = path.join(tempDir(), "out")
      const args = [
        "sync",
        ...organizers.flatMap((o) => ["--organizer", o]),
        "--from",
        "2024-01-01",
        "--to",
        "2024-03-01",
        "--out",
        out,
        "--state",
        "postgres",
        "--sink",
        "postgres",
        "--json"
      ]
      const env = cleanEnv({ GRAPH_BASE_URL: emu.baseUrl, GRAPH_ACCESS_TOKEN: emu.accessToken, ...pgEnv })
      const first = await runCli(args, { env })
      expect(first.code, first.stderr).toBe(0)
      expect(JSON.parse(first.stdout).recordings.downloaded).toBeGreaterThan(0)
      // The checkpoint lives in Postgres, not in <out>: a second run finds everything complete there.
      expect(fs.existsSync(path.join(out, ".meeting-artifacts", "state.sqlite"))).toBe(false)
      const second = await runCli(args, { env })
      expect(second.code, second.stderr).toBe(0)
      const summary = JSON.parse(second.stdout)
      expect(summary.recordings.downloaded + summary.transcripts.downloaded).toBe(0)
      expect(summary.recordings.skipped).toBe(JSON.parse(first.stdout).recordings.downloaded)
    } finally {
      await pg.stop()
    }
  }, 180_000)
})
