import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { ACCEPTED_SINK_FORMS, formatSinkSpec, parseSinkSpec, parseSinkSpecs } from "../src/index.js"

describe("parseSinkSpec", () => {
  it("parses every accepted form", () => {
    expect(parseSinkSpec("sqlite:./out/a.db")).toEqual(
      Either.right({ _tag: "sqlite", path: "./out/a.db", disposition: "merge" })
    )
    expect(parseSinkSpec("parquet:/lake/ma")).toEqual(
      Either.right({ _tag: "parquet", dir: "/lake/ma", disposition: "merge" })
    )
    expect(parseSinkSpec("azure-blob:meetings")).toEqual(
      Either.right({ _tag: "azure-blob", container: "meetings", prefix: "", disposition: "merge" })
    )
    expect(parseSinkSpec("azure-blob:meetings/raw/teams")).toEqual(
      Either.right({ _tag: "azure-blob", container: "meetings", prefix: "raw/teams/", disposition: "merge" })
    )
    expect(parseSinkSpec("sqlite+append:h.db")).toEqual(
      Either.right({ _tag: "sqlite", path: "h.db", disposition: "append" })
    )
    const pg = Either.getOrThrow(parseSinkSpec("postgres:postgres://u:secret@127.0.0.1:5432/db"))
    expect(pg._tag).toBe("postgres")
    if (pg._tag === "postgres") expect(Redacted.value(pg.url)).toBe("postgres://u:secret@127.0.0.1:5432/db")
    expect(formatSinkSpec(pg)).toBe("postgres:postgres://u:***@127.0.0.1:5432/db")
    if (pg._tag === "postgres") expect(String(pg.url)).not.toContain("secret")
    // the bare URL is accepted as well
    expect(Either.getOrThrow(parseSinkSpec("postgresql://u@h/db"))._tag).toBe("postgres")
  })

  it("rejects bad specs with one line naming the accepted forms (and no password)", () => {
    for (
      const bad of [
        "",
        "sqlite",
        "sqlite:",
        "mysql:x",
        "s3:bucket",
        "parquet:",
        "azure-blob:",
        "azure-blob:AB",
        "azure-blob:a--b",
        "azure-blob:ab",
        "azure-blob:ok-name/../x",
        "postgres:http://x",
        "postgres:",
        "sqlite+upsert:x",
        "postgres:postgres://u:hunter2@[bad/db"
      ]
    ) {
      const r = parseSinkSpec(bad)
      expect(Either.isLeft(r)).toBe(true)
      if (Either.isLeft(r)) {
        expect(r.left._tag).toBe("InvalidSinkSpec")
        expect(r.left.message).not.toContain("\n")
        expect(r.left.message).toContain(ACCEPTED_SINK_FORMS)
        expect(r.left.message).not.toContain("hunter2")
      }
    }
    expect(Either.isLeft(parseSinkSpecs(["sqlite:a.db", "nope:x"]))).toBe(true)
    expect(Either.getOrThrow(parseSinkSpecs(["sqlite:a.db", "parquet:p"]))).toHaveLength(2)
  })
})
