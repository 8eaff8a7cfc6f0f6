/**
 * The manifest under a long export: `Manifest.upsert` of N new sets (8 in
 * flight, as a sync with --concurrency 8) against a baseline measured in the
 * same run: the same lines appended to a plain file, one open + write + fsync
 * per line, 8 at a time: the least a durable JSONL writer can do.
 *
 * Goal: upserting costs O(1) per new set (journal appends, manifest.jsonl
 * rewritten whole only as the journal doubles, and once by the final flush), so
 * the ratio stays flat as N grows (a manifest rewritten whole per upsert made it
 * grow with N: 20k sets took 146 s). Reported at N and 4N.
 *
 * Run: `pnpm exec tsx bench/manifest.ts` (options: --n 5000 --concurrency 8)
 */
import { Manifest } from "@meeting-artifacts/sinks"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}
const N = arg("n", 5000)
const CONCURRENCY = arg("concurrency", 8)

// Lines like a real run's: Graph ids are ~150 characters of base64 (~1.2 KB a line).
const id = (kind: string, i: number) => `${kind}-${i}-`.padEnd(150, "A+/=")
const entryOf = (i: number): Manifest.ManifestEntry => ({
  meetingId: id("meeting", i),
  organizerId: "8b081ef6-4792-4def-b2c9-c363a1bf41d5",
  contentCorrelationId: `cc-${i}`.padEnd(36, "0"),
  match: "contentCorrelationId",
  recording: {
    id: id("rec", i),
    createdDateTime: "2026-03-02T10:00:00.1234567Z",
    endDateTime: "2026-03-02T11:00:00.1234567Z",
    path: `org~hash/meeting~hash/recording-${i}.mp4`.padEnd(120, "x"),
    bytes: 1_073_741_824,
    sha256: "a".repeat(64),
    contentType: "video/mp4"
  },
  transcript: {
    id: id("tr", i),
    createdDateTime: "2026-03-02T10:00:00.1234567Z",
    endDateTime: "2026-03-02T11:00:00.1234567Z",
    path: `org~hash/meeting~hash/transcript-${i}.vtt`.padEnd(120, "x"),
    bytes: 120_000,
    sha256: "b".repeat(64),
    cues: 900
  }
})

const fresh = () => fs.mkdtempSync(path.join(os.tmpdir(), "bench-manifest-"))

const viaManifest = (n: number) =>
  Effect.gen(function*() {
    const m = yield* Manifest.make(fresh())
    yield* Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => m.upsert(entryOf(i)), {
      concurrency: CONCURRENCY,
      discard: true
    })
    // and the final rewrite that leaves manifest.jsonl holding every line
    yield* m.flush
  })

const viaAppend = (n: number) =>
  Effect.promise(async () => {
    const target = path.join(fresh(), "manifest.jsonl")
    let next = 0
    const worker = async () => {
      while (next < n) {
        const line = Manifest.formatEntry(entryOf(next++)) + "\n"
        const h = await fsp.open(target, "a")
        await h.writeFile(line)
        await h.sync()
        await h.close()
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  })

const time = async (run: Effect.Effect<void, unknown>): Promise<number> => {
  const t = performance.now()
  await Effect.runPromise(run)
  return performance.now() - t
}

const main = async () => {
  console.log(`node ${process.version}; tmp ${os.tmpdir()}`)
  const ratios: Array<number> = []
  for (const n of [N, 4 * N]) {
    const base: Array<number> = [], ours: Array<number> = []
    for (let r = 0; r < 3; r++) {
      base.push(await time(viaAppend(n)))
      ours.push(await time(viaManifest(n)))
    }
    const med = (xs: Array<number>) => xs.sort((a, b) => a - b)[1]!
    const ratio = med(ours) / med(base)
    ratios.push(ratio)
    console.log(
      `${n} new sets: Manifest.upsert ${med(ours).toFixed(0)} ms (${(med(ours) / n * 1000).toFixed(0)} µs/set), ` +
        `append+fsync baseline ${med(base).toFixed(0)} ms -> ${ratio.toFixed(2)}x`
    )
  }
  const growth = ratios[1]! / ratios[0]!
  console.log(
    `  -> ratio at ${4 * N} / ratio at ${N} = ${growth.toFixed(2)} (goal: flat, <= 1.5): ${
      growth <= 1.5 ? "OK" : "MISSED"
    }`
  )
}

main()
