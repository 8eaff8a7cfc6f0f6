import { describe, expect, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Staging from "../src/internal/staging.js"

const stageWhole = (staging: Staging.Staging, key: string, id: string, bytes: Uint8Array, contentType: string | null) =>
  staging.stage(key, { kind: "recording", id }, {
    stream: Stream.make(bytes),
    bytes,
    contentType,
    size: bytes.byteLength
  }, () => Effect.void)

describe("staging of a whole body", () => {
  // What the next run finds of a `.done` a kill left before the sink adopted it: its content type decides
  // the file's path, so it must read back as what the server said, meta or not.
  it.effect("a .done left behind reads back with its content type, with or without a meta file", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "staging-whole-"))
      const bytes = new TextEncoder().encode("x".repeat(300))
      const first = Staging.make(dir)
      yield* first.sweep
      const plain = Staging.stagingKey("recording", "r1")
      const other = Staging.stagingKey("recording", "r2")
      const a = yield* stageWhole(first, plain, "r1", bytes, Staging.defaultContentType("recording"))
      const b = yield* stageWhole(first, other, "r2", bytes, "video/webm")
      expect(a.sha256).toBe(createHash("sha256").update(bytes).digest("hex"))
      // the default type needs no meta (one file per artifact); another type keeps one
      expect(fs.readdirSync(dir).sort()).toEqual([`${other}.done`, `${other}.json`, `${plain}.done`].sort())

      // the next run (the process was killed: nothing removed)
      const next = Staging.make(dir)
      yield* next.sweep
      const foundPlain = yield* next.find(plain)
      const foundOther = yield* next.find(other)
      expect(foundPlain?.file).toBe(a.file)
      expect(foundPlain?.bytes).toBe(300)
      expect(foundPlain?.contentType ?? Staging.defaultContentType("recording")).toBe("video/mp4")
      expect(foundOther?.file).toBe(b.file)
      expect(foundOther?.contentType).toBe("video/webm")
    }))
})
