import { defaultPolicy } from "@meeting-artifacts/api"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { loadConfigFile } from "../src/internal/configFile.js"
import { FlagError, resolveFlags } from "../src/internal/flags.js"
import { styleFor } from "../src/internal/help.js"
import { syncFlags } from "../src/internal/syncFlags.js"

const file = (values: Record<string, unknown>) => ({ path: "job.yaml", values })
const base = { organizer: ["o"], out: "/x" }

describe("resolveFlags (sync's table)", () => {
  it("flag > environment > config file > default, value by value", () => {
    const f = file({ concurrency: 2, rate: 3, "max-requests": 30, "graph-url": "https://file.example/v1.0" })
    const env = { MEETING_ARTIFACTS_RATE: "7.5", MEETING_ARTIFACTS_MAX_REQUESTS: "40" }
    const r = resolveFlags(syncFlags, { ...base, maxRequests: 50 }, env, f)
    expect(r.maxRequests).toBe(50)
    expect(r.rate).toBe(7.5)
    expect(r.concurrency).toBe(2)
    expect(r.graphUrl).toBe("https://file.example/v1.0")
    const defaults = resolveFlags(syncFlags, base, {}, undefined)
    expect(defaults).toMatchObject({
      concurrency: defaultPolicy.maxConcurrentDownloads,
      rate: defaultPolicy.requestsPerSecond,
      // Not given: it follows --concurrency (see `maxConcurrentRequestsFor`).
      maxRequests: undefined,
      graphUrl: "https://graph.microsoft.com/v1.0",
      state: undefined,
      sink: [],
      incremental: false
    })
  })

  it("lists: comma-separated in the environment, a list or one string in a file; a given flag replaces them", () => {
    const env = { MEETING_ARTIFACTS_SINK: "sqlite:a.db, parquet:p ,", MEETING_ARTIFACTS_ORGANIZER: "a,b" }
    const r = resolveFlags(syncFlags, { out: "/x" }, env, file({ meeting: "m1", "join-url": ["u1", "u2"] }))
    expect(r.sink).toEqual(["sqlite:a.db", "parquet:p"])
    expect(r.organizer).toEqual(["a", "b"])
    expect(r.meeting).toEqual(["m1"])
    expect(r.joinUrl).toEqual(["u1", "u2"])
    expect(resolveFlags(syncFlags, { out: "/x", organizer: ["c"] }, env, undefined).organizer).toEqual(["c"])
  })

  it("booleans: true/false/yes/no/1/0 in the environment, YAML booleans in a file", () => {
    expect(resolveFlags(syncFlags, base, { MEETING_ARTIFACTS_DRY_RUN: "Yes" }, undefined).dryRun).toBe(true)
    expect(resolveFlags(syncFlags, base, { MEETING_ARTIFACTS_DRY_RUN: "0" }, file({ "dry-run": true })).dryRun).toBe(
      false
    )
    expect(resolveFlags(syncFlags, base, {}, file({ json: true })).json).toBe(true)
    expect(() => resolveFlags(syncFlags, base, { MEETING_ARTIFACTS_DRY_RUN: "maybe" }, undefined)).toThrow(
      "MEETING_ARTIFACTS_DRY_RUN: expected true or false, got \"maybe\""
    )
  })

  it("rejects, naming the source: set-but-empty variables, non-numbers, out-of-bounds knobs, unknown file keys, missing required", () => {
    const cases: Array<[() => unknown, string]> = [
      [
        () => resolveFlags(syncFlags, base, { MEETING_ARTIFACTS_SINK: " " }, undefined),
        "MEETING_ARTIFACTS_SINK is set but empty"
      ],
      [
        () => resolveFlags(syncFlags, base, { MEETING_ARTIFACTS_CONCURRENCY: "4.5" }, undefined),
        "MEETING_ARTIFACTS_CONCURRENCY: expected an integer, got \"4.5\""
      ],
      [
        () => resolveFlags(syncFlags, base, { MEETING_ARTIFACTS_RATE: "fast" }, undefined),
        "MEETING_ARTIFACTS_RATE: expected a number, got \"fast\""
      ],
      [() => resolveFlags(syncFlags, { ...base, rate: 0 }, {}, undefined), "--rate must be a positive number, got 0"],
      [
        () => resolveFlags(syncFlags, { ...base, maxRequests: 0 }, {}, undefined),
        "--max-requests must be a positive integer, got 0"
      ],
      [
        () => resolveFlags(syncFlags, base, {}, file({ concurrency: 65 })),
        "--concurrency (from job.yaml: concurrency) must be an integer from 1 to 64, got 65"
      ],
      [
        () => resolveFlags(syncFlags, base, {}, file({ concurrency: "many" })),
        "job.yaml: concurrency: expected an integer, got \"many\""
      ],
      [() => resolveFlags(syncFlags, base, {}, file({ organiser: ["a"] })), "job.yaml: unknown key \"organiser\""],
      [() => resolveFlags(syncFlags, base, {}, file({ config: "other.yaml" })), "job.yaml: unknown key \"config\""],
      [() => resolveFlags(syncFlags, { organizer: ["o"] }, {}, file({ out: "" })), "job.yaml: out is empty"],
      [
        () => resolveFlags(syncFlags, { organizer: ["o"] }, {}, undefined),
        "--out <dir> is required (or MEETING_ARTIFACTS_OUT, or out: in the --config file)"
      ],
      [() => resolveFlags(syncFlags, { out: "/x" }, {}, undefined), "--organizer <userId> is required"]
    ]
    for (const [run, message] of cases) {
      expect(run).toThrow(FlagError)
      expect(run).toThrow(message)
    }
  })
})

describe("loadConfigFile", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ma-config-"))
  const write = (name: string, text: string) => {
    const p = path.join(dir, name)
    fs.writeFileSync(p, text)
    return p
  }
  it("reads YAML (comments, lists, plain dates stay strings) and JSON", async () => {
    const y = await loadConfigFile(
      write("a.yaml", "# nightly\norganizer:\n  - a\n  - b\nfrom: 2024-01-01\nconcurrency: 8\n")
    )
    expect(y.values).toEqual({ organizer: ["a", "b"], from: "2024-01-01", concurrency: 8 })
    expect((await loadConfigFile(write("b.json", "{\"out\": \"/x\"}"))).values).toEqual({ out: "/x" })
    expect((await loadConfigFile(write("empty.yaml", ""))).values).toEqual({})
  })
  it("a file that is not a mapping, not valid, or not there is a FlagError that does not echo its contents", async () => {
    await expect(loadConfigFile(write("list.yaml", "- a\n- b\n"))).rejects.toThrow(
      "expected a mapping of flag names to values"
    )
    const broken = loadConfigFile(write("broken.json", "{\"state\": \"postgres://u:hunter2@db/x\","))
    await expect(broken).rejects.toThrow(/not valid JSON/)
    await expect(broken).rejects.not.toThrow(/hunter2/)
    const badYaml = loadConfigFile(write("bad.yaml", "state: \"postgres://u:hunter2@db/x\nfoo: [\n"))
    await expect(badYaml).rejects.toThrow(/not valid YAML/)
    await expect(badYaml).rejects.not.toThrow(/hunter2/)
    await expect(loadConfigFile(path.join(dir, "missing.yaml"))).rejects.toThrow("cannot read it (ENOENT)")
  })
})

describe("styleFor", () => {
  it("bold only on a terminal without NO_COLOR", () => {
    expect(styleFor({ isTTY: true }, {}).bold("x")).toContain("\u001b[")
    expect(styleFor({ isTTY: true }, { NO_COLOR: "1" }).bold("x")).toBe("x")
    expect(styleFor({ isTTY: false }, {}).bold("x")).toBe("x")
    expect(styleFor({}, {}).bold("x")).toBe("x")
  })
})

describe("resolveSyncConfig: Postgres from the environment", () => {
  it("`postgres` alone (state or sink, any disposition) is DATABASE_URL, else a URL that leaves every part to PG*", async () => {
    const { resolveSyncConfig } = await import("../src/internal/syncConfig.js")
    const parsed = { ...base, state: "postgres", sink: ["postgres", "postgres+append", "sqlite:x.db"] }
    const withUrl = await resolveSyncConfig(parsed, { DATABASE_URL: "postgres://u:pw@db/teams" })
    expect(withUrl.state).toBe("postgres://u:pw@db/teams")
    expect(withUrl.sink).toEqual([
      "postgres:postgres://u:pw@db/teams",
      "postgres+append:postgres://u:pw@db/teams",
      "sqlite:x.db"
    ])
    const fromPg = await resolveSyncConfig(parsed, { PGHOST: "db" })
    expect(fromPg.state).toBe("postgres:///")
    await expect(resolveSyncConfig(parsed, { DATABASE_URL: "" })).rejects.toThrow("DATABASE_URL is set but empty")
    expect((await resolveSyncConfig({ ...base, state: "/var/lib/state.sqlite" }, {})).state).toBe(
      "/var/lib/state.sqlite"
    )
  })
})

describe("resolveExportConfig: downloads within the requests in flight", () => {
  it("refuses --concurrency above a --max-requests given, wherever either comes from, and takes it equal", async () => {
    const { resolveSyncConfig } = await import("../src/internal/syncConfig.js")
    const above = resolveSyncConfig({ ...base, concurrency: 16, maxRequests: 12 }, {})
    await expect(above).rejects.toBeInstanceOf(FlagError)
    await expect(above).rejects.toThrow(
      "--concurrency 16 is above --max-requests 12: every download is a Graph request"
    )
    await expect(resolveSyncConfig({ ...base }, { MEETING_ARTIFACTS_MAX_REQUESTS: "3" })).rejects.toThrow(
      `--concurrency ${defaultPolicy.maxConcurrentDownloads} is above --max-requests 3`
    )
    const equal = await resolveSyncConfig({ ...base, concurrency: 16, maxRequests: 16 }, {})
    expect([equal.concurrency, equal.maxRequests]).toEqual([16, 16])
  })

  it("without --max-requests, the requests in flight follow a --concurrency above the default", async () => {
    const { resolveSyncConfig } = await import("../src/internal/syncConfig.js")
    const { maxConcurrentRequestsFor: maxRequestsFor } = await import("@meeting-artifacts/api/GraphPolicy")
    const wide = await resolveSyncConfig({ ...base, concurrency: 32 }, {})
    expect(wide.maxRequests).toBeUndefined()
    expect(maxRequestsFor(wide.concurrency, wide.maxRequests)).toBe(32)
    const narrow = await resolveSyncConfig({ ...base, concurrency: 2 }, {})
    expect(maxRequestsFor(narrow.concurrency, narrow.maxRequests)).toBe(defaultPolicy.maxConcurrentRequests)
    expect(maxRequestsFor(2, 5)).toBe(5)
  })
})
