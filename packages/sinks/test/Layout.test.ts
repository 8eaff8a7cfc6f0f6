import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as path from "node:path"
import { Layout } from "../src/index.js"

const hostile = fc.oneof(
  fc.constantFrom(
    "../x",
    "a/b",
    "+/=",
    "x".repeat(300),
    "é🎉日本",
    "",
    "\0",
    "CON",
    "con.txt",
    ".",
    "..",
    "a\\b",
    " ",
    "NUL",
    "..\\..\\x"
  ),
  fc.string({ unit: "binary", maxLength: 400 }),
  fc.string({ unit: "grapheme", maxLength: 50 }),
  fc.stringMatching(/^[A-Za-z0-9+/=._-]{0,200}$/)
)

const kinds = fc.constantFrom("recording", "transcript", "transcriptMetadata") as fc.Arbitrary<Layout.ArtifactKind>

const RESERVED = /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i

describe("Layout", () => {
  it("content types named like Object.prototype members get the fallback extension", () => {
    for (const ct of ["__proto__", "constructor", "toString", "hasOwnProperty; charset=x"]) {
      expect(Layout.extensionFor(ct, "mp4")).toBe("mp4")
    }
    expect(Layout.extensionFor("Video/MP4; codecs=x", "bin")).toBe("mp4")
  })

  it("hostile ids never escape the root and make valid segments", () => {
    const root = path.resolve("/srv/out")
    fc.assert(
      fc.property(hostile, hostile, hostile, kinds, fc.option(fc.string()), (org, meeting, id, kind, ct) => {
        const rel = Layout.artifactPath({ kind, organizerId: org, meetingId: meeting, id, contentType: ct })
        const abs = path.resolve(root, rel)
        expect(abs.startsWith(root + path.sep)).toBe(true)
        expect(path.relative(root, abs).split(path.sep)).toHaveLength(3)
        for (const seg of rel.split("/")) {
          expect(seg.length).toBeGreaterThan(0)
          expect(seg.length).toBeLessThanOrEqual(120)
          expect(seg).toMatch(/^[A-Za-z0-9_~.-]+$/)
          expect(seg).not.toMatch(/^\.+$/)
          expect(seg).not.toMatch(RESERVED)
          expect(seg.endsWith(".")).toBe(false)
        }
      }),
      { numRuns: 500 }
    )
  })

  it("distinct ids map to distinct paths (also case-insensitively)", () => {
    fc.assert(
      fc.property(hostile, hostile, (a, b) => {
        fc.pre(a !== b)
        expect(Layout.segment(a)).not.toBe(Layout.segment(b))
        expect(Layout.segment(a).toLowerCase()).not.toBe(Layout.segment(b).toLowerCase())
        const pa = Layout.recordingPath("o", "m", a)
        const pb = Layout.recordingPath("o", "m", b)
        expect(pa).not.toBe(pb)
      }),
      { numRuns: 1000 }
    )
    expect(Layout.segment("Ab")).not.toBe(Layout.segment("aB"))
  })

  it("is stable and readable", () => {
    expect(Layout.segment("abc")).toBe(Layout.segment("abc"))
    expect(Layout.segment("MSo1N2Y5ZGFjYy")).toMatch(/^MSo1N2Y5ZGFjYy~[0-9a-f]{32}$/)
    expect(Layout.segment("")).toMatch(/^~[0-9a-f]{32}$/)
    expect(Layout.recordingPath("o", "m", "r", "video/mp4")).toMatch(/\/recording-r~[0-9a-f]{32}\.mp4$/)
    expect(Layout.recordingPath("o", "m", "r", "audio/mp4; codecs=x")).toMatch(/\.m4a$/)
    expect(Layout.transcriptPath("o", "m", "t")).toMatch(/\/transcript-t~[0-9a-f]{32}\.vtt$/)
    expect(Layout.transcriptMetadataPath("o", "m", "t")).toMatch(/\.metadata\.json$/)
  })
})
