import { Command } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { Parsed } from "../src/internal/flags.js"
import { parsedValues, tableOptions } from "../src/internal/options.js"
import { plainArgs } from "../src/internal/plainArgs.js"
import { syncFlags } from "../src/internal/syncFlags.js"

type SyncParsed = { readonly [K in keyof typeof syncFlags]?: Parsed }

/** What `@effect/cli` (the `sync` command's own options) parses from `args`, or that it refused them. */
const viaEffectCli = (args: ReadonlyArray<string>): Either.Either<SyncParsed, unknown> => {
  let parsed: SyncParsed | undefined
  const command = Command.make("sync", tableOptions(syncFlags), (flags) =>
    Effect.sync(() => {
      parsed = parsedValues<typeof syncFlags>(flags)
    }))
  const run = Command.run(Command.make("meeting-artifacts").pipe(Command.withSubcommands([command])), {
    name: "meeting-artifacts",
    version: "0"
  })
  const exit = Effect.runSyncExit(
    run(["node", "meeting-artifacts", "sync", ...args]).pipe(
      Effect.provide(NodeContext.layer),
      // its parse errors go to Console.error: not this test's output
      Effect.withConsole({ ...globalThis.console, error: () => Effect.void } as never)
    )
  )
  return exit._tag === "Success" && parsed !== undefined ? Either.right(parsed) : Either.left(exit)
}

describe("plainArgs: sync's plain command lines without @effect/cli", () => {
  it("reads what @effect/cli reads from a plain line", () => {
    const lines = [
      ["--organizer", "a", "--from", "2024-01-01T00:00:00Z", "--to", "2024-02-01", "--out", "o", "--json"],
      ["--organizer", "a", "--organizer", "b@x.example", "--out", "o w", "--concurrency", "8", "--rate", "2.5"],
      ["--meeting", "m=1", "--join-url", "https://teams.example/l?x=1&y=2", "--out", "o", "--dry-run", "--incremental"],
      ["--tenants", "t.yaml", "--max-requests", "0", "--rate", "7", "--log-format", "json", "--sink", "sqlite:x.db"],
      []
    ]
    for (const line of lines) {
      const plain = plainArgs(syncFlags, line)
      expect(plain, line.join(" ")).toBeDefined()
      expect(plain, line.join(" ")).toEqual(Either.getOrThrow(viaEffectCli(line)))
    }
  })

  it("leaves every other line to @effect/cli (its errors and forms)", () => {
    for (
      const line of [
        ["--organizer"],
        ["--out", "--json"],
        ["--out=o"],
        ["--concurrency", "1e3"],
        ["--max-requests", "12345678901234567890"],
        ["--concurrency", "9007199254740993"],
        ["--concurrency", "-1"],
        ["--rate", ".5"],
        ["--json", "true"],
        ["--json", "--json"],
        ["--out", "a", "--out", "b"],
        ["--out", ""],
        ["--help"],
        ["--version"],
        ["--wizard"],
        ["--log-level", "debug"],
        ["--completions", "bash"],
        ["--", "--out", "o"],
        ["extra"],
        ["--Out", "o"]
      ]
    ) expect(plainArgs(syncFlags, line), line.join(" ")).toBeUndefined()
  })

  it("whatever line it reads, @effect/cli reads the same way (generated lines)", () => {
    const names = Object.values(syncFlags).map((f) => `--${f.name}`)
    const token = fc.oneof(
      fc.constantFrom(...names, "--help", "--version", "--log-level", "--"),
      fc.constantFrom(
        "0",
        "1",
        "12",
        "2.5",
        "007",
        "1e3",
        "9007199254740993",
        "12345678901234567890",
        "-3",
        "",
        "true",
        "x=y",
        "a b",
        "https://h.example/v1.0"
      ),
      fc.string({ maxLength: 6 })
    )
    fc.assert(
      fc.property(fc.array(token, { maxLength: 10 }), (line) => {
        const plain = plainArgs(syncFlags, line)
        if (plain === undefined) return
        const cli = viaEffectCli(line)
        expect(Either.isRight(cli), line.join(" ")).toBe(true)
        expect(plain, JSON.stringify(line)).toEqual(Either.getOrThrow(cli))
      }),
      { numRuns: 300 }
    )
  })
})
