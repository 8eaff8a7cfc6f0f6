/**
 * `--help` of every command through the real binary, as a scheduler or a pipe sees it (not a TTY).
 */
import { defaultPolicy } from "@meeting-artifacts/api"
import { describe, expect, it } from "vitest"
import { cleanEnv, runCli } from "./helpers.js"

const ESC = "\u001b"

const helpOf = async (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const r = await runCli(args, { env: cleanEnv(env) })
  expect(r.code, r.stderr).toBe(0)
  expect(r.stderr).toBe("")
  return r.stdout
}

/** The lines of the option list from `--<flag>` up to the next option. */
const optionBlock = (help: string, flag: string): string => {
  const lines = help.split("\n")
  const start = lines.findIndex((l) =>
    l.startsWith(`  --${flag} `) || l === `  --${flag}` || l.startsWith(`  --${flag}  `)
  )
  expect(start, `--${flag} in help`).toBeGreaterThanOrEqual(0)
  const end = lines.findIndex((l, i) => i > start && l.startsWith("  --"))
  return lines.slice(start, end).join("\n")
}

const finished = (help: string) => {
  expect(help).not.toContain(ESC)
  expect(help).not.toMatch(/A user-defined piece of text|This setting is optional|An integer\.|A true or false value/)
  for (const line of help.split("\n")) expect(line.length, line).toBeLessThanOrEqual(80)
}

describe("--help", () => {
  it("the root lists every command with a one-line description, and the global options", async () => {
    for (const args of [["--help"], ["-h"], []]) {
      const help = await helpOf(args)
      finished(help)
      expect(help).toMatch(/^meeting-artifacts 0\.1\.0: Export Microsoft Teams/)
      for (const command of ["sync", "listen", "verify", "view", "emulator"]) {
        expect(help).toMatch(new RegExp(`^  ${command} +[A-Z][^\\n]+$`, "m"))
      }
      expect(help).toMatch(/^  --version /m)
    }
  })

  it("sync: required and optional flags, defaults from their homes, environment names and precedence", async () => {
    const help = await helpOf(["sync", "--help"], { FORCE_COLOR: "1" })
    finished(help)
    expect(help).toMatch(/^Usage:\n  meeting-artifacts sync --organizer <userId>\.\.\. --out <dir> \[options\]$/m)
    expect(help).toContain("precedence: flag > environment > config file > default")
    expect(optionBlock(help, "organizer")).toMatch(
      /required unless --tenants, repeatable[\s\S]*env MEETING_ARTIFACTS_ORGANIZER \(comma-separated\)/
    )
    expect(optionBlock(help, "out")).toMatch(
      /--out <dir> +required unless --tenants\n[\s\S]*env MEETING_ARTIFACTS_OUT; config key out/
    )
    expect(optionBlock(help, "tenants")).toMatch(/--tenants <file> +optional\n[\s\S]*env MEETING_ARTIFACTS_TENANTS/)
    expect(optionBlock(help, "from")).toMatch(/required unless --meeting or --join-url/)
    expect(optionBlock(help, "graph-url")).toMatch(
      /optional,\s+default https:\/\/graph\.microsoft\.com\/v1\.0[\s\S]*env GRAPH_BASE_URL/
    )
    expect(optionBlock(help, "state")).toMatch(
      /optional,\s+default <out>\/\.meeting-artifacts\/state\.sqlite[\s\S]*DATABASE_URL/
    )
    expect(optionBlock(help, "concurrency")).toMatch(
      new RegExp(`optional, default ${defaultPolicy.maxConcurrentDownloads}\\n`)
    )
    expect(optionBlock(help, "rate")).toMatch(
      new RegExp(
        `--rate <requests/s> +optional, default ${defaultPolicy.requestsPerSecond}\\n[\\s\\S]*MEETING_ARTIFACTS_RATE`
      )
    )
    expect(optionBlock(help, "max-requests")).toMatch(
      new RegExp(
        `optional, default ${defaultPolicy.maxConcurrentRequests}, or --concurrency when that is larger\\n` +
          `[\\s\\S]*MEETING_ARTIFACTS_MAX_REQUESTS`
      )
    )
    expect(optionBlock(help, "config")).toMatch(
      /--config <file> +optional[\s\S]*JSON or YAML[\s\S]*MEETING_ARTIFACTS_CONFIG/
    )
    for (const flag of ["sink", "meeting", "join-url"]) expect(optionBlock(help, flag)).toMatch(/optional, repeatable/)
    for (const flag of ["incremental", "dry-run", "metadata-content", "json"]) {
      expect(optionBlock(help, flag)).toMatch(new RegExp(`--${flag} +optional\\n`))
    }
    expect(help).toMatch(/GRAPH_ACCESS_TOKEN[\s\S]*Exit codes: 0/)
  })

  it("listen: its own flags with their defaults, and the ones it shares with sync", async () => {
    const help = await helpOf(["listen", "--help"])
    finished(help)
    expect(help).toMatch(/^meeting-artifacts listen: Export recordings and transcripts as Graph announces\s+them/)
    expect(optionBlock(help, "notification-url")).toMatch(/required[\s\S]*env MEETING_ARTIFACTS_NOTIFICATION_URL/)
    expect(optionBlock(help, "port")).toMatch(/optional, default 0/)
    expect(optionBlock(help, "queue-limit")).toMatch(/optional, default 10000/)
    expect(optionBlock(help, "subscription-minutes")).toMatch(/optional,\s+default 60, or 4230 with --lifecycle-url/)
    expect(optionBlock(help, "client-id")).toMatch(/env AZURE_CLIENT_ID/)
    expect(optionBlock(help, "out")).toMatch(/required[\s\S]*env MEETING_ARTIFACTS_OUT/)
    expect(optionBlock(help, "concurrency")).toMatch(
      new RegExp(`optional, default ${defaultPolicy.maxConcurrentDownloads}\\n`)
    )
    expect(help).toMatch(/LISTEN_URL=/)
    expect(help).toMatch(/OnlineMeetingRecording\.Read\.All/)
  })

  it("verify, view and emulator read the same way", async () => {
    const verify = await helpOf(["verify", "--help"])
    finished(verify)
    expect(verify).toMatch(/^meeting-artifacts verify: Check an export/)
    expect(optionBlock(verify, "out")).toMatch(/required[\s\S]*env MEETING_ARTIFACTS_OUT/)
    expect(optionBlock(verify, "json")).toMatch(/optional/)
    const emulator = await helpOf(["emulator", "-h"], { NO_COLOR: "1" })
    finished(emulator)
    expect(emulator).toMatch(/--fixture <tenant\.json> \| --generate <spec>/)
    expect(optionBlock(emulator, "fixture")).toMatch(/this or --generate/)
    expect(optionBlock(emulator, "port")).toMatch(/optional, default 0/)
    expect(optionBlock(emulator, "faults")).toMatch(/optional, default none[\s\S]*throttled, hostile/)
    expect(emulator).toMatch(/GRAPH_BASE_URL=/)
    const view = await helpOf(["view", "--help"])
    finished(view)
    expect(view).toMatch(/^meeting-artifacts view: Serve a read-only web page/)
    expect(optionBlock(view, "out")).toMatch(/required[\s\S]*env MEETING_ARTIFACTS_OUT/)
    expect(optionBlock(view, "port")).toMatch(/optional, default 0/)
    expect(optionBlock(view, "open")).toMatch(/optional/)
    expect(view).toMatch(/VIEW_URL=http:\/\/127\.0\.0\.1:<port>\//)
  })
})
