/**
 * The viewer over a large export: 10k sets and 1M transcript cues, generated
 * synthetically (Teams-style VTT files, manifest written by sinks' formatter).
 *
 * Measured, over HTTP on loopback against a running viewer:
 * - first page: a fresh server on the built index (open + fingerprint +
 *   listen), then what the browser fetches for the set list: `/`, the script,
 *   `/api/facets` and the first 50 sets; the same 50 sorted by cost and
 *   filtered by organizer;
 * - search: the median and worst of several queries (a rare word, a common
 *   word, a prefix, two words), first page of 50 with the capped total.
 * Baselines in the same run: for the first page, reading and JSON-parsing the
 * whole manifest.jsonl (what a page without a server-side list must do before
 * showing anything); for search, reading every transcript file and scanning
 * it for the word (grep without an index).
 * The index build is reported too (once per export, not a goal).
 *
 * Goal: first page <= 1 s, a search <= 200 ms.
 *
 * Run: `pnpm exec tsx bench/view.ts` (options: --sets 10000 --cues 100 per transcript; --dir <path> keeps the
 * generated export there and reuses it on the next run, index included, instead of a temp folder)
 */
import { Manifest } from "@meeting-artifacts/sinks"
import { serve } from "@meeting-artifacts/viewer"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}
const SETS = arg("sets", 10_000)
const CUES = arg("cues", 100)
const dirArg = process.argv.indexOf("--dir") >= 0 ? process.argv[process.argv.indexOf("--dir") + 1] : undefined

// A deterministic generator, so every run indexes the same text.
let seed = 42
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff
  return seed / 0x80000000
}
const syllables = [
  "ka",
  "lo",
  "mi",
  "ren",
  "tu",
  "sa",
  "vel",
  "dor",
  "pi",
  "an",
  "qua",
  "ter",
  "zo",
  "bri",
  "mun",
  "el"
]
const vocabulary = Array.from({ length: 5000 }, () => {
  const n = 2 + Math.floor(rand() * 3)
  return Array.from({ length: n }, () => syllables[Math.floor(rand() * syllables.length)]).join("")
})
// Zipf-like: low indexes are common words.
const word = () => vocabulary[Math.floor(vocabulary.length * Math.pow(rand(), 3))]!
const speakers = Array.from({ length: 300 }, (_, i) => `Speaker ${i} ${vocabulary[i * 7]!}`)
const ts = (ms: number) => {
  const h = Math.floor(ms / 3_600_000)
  const m = Math.floor(ms / 60_000) % 60
  const s = Math.floor(ms / 1000) % 60
  return `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}.${String(ms % 1000).padStart(3, "0")}`
}

const generate = (out: string) => {
  const lines: Array<string> = []
  const start = Date.parse("2026-01-05T09:00:00Z")
  for (let i = 0; i < SETS; i++) {
    const dir = `org-${i % 50}/meeting-${i}`
    fs.mkdirSync(path.join(out, dir), { recursive: true })
    const who = Array.from({ length: 4 }, () => speakers[Math.floor(rand() * speakers.length)]!)
    const parts = ["WEBVTT\n"]
    let t = 0
    for (let c = 0; c < CUES; c++) {
      const len = 1500 + Math.floor(rand() * 4000)
      // One cue in ~10k says a word no other says.
      const text = Array.from({ length: 6 + Math.floor(rand() * 10) }, word).join(" ") +
        ((i * CUES + c) % 10_007 === 5 ? " xylophonist" : "")
      parts.push(`\n${i}-${c}/${c}-0\n${ts(t)} --> ${ts(t + len)}\n<v ${who[c % 4]}>${text}</v>\n`)
      t += len + 200
    }
    const vtt = parts.join("")
    fs.writeFileSync(path.join(out, dir, "transcript.vtt"), vtt)
    const created = new Date(start + i * 1_800_000).toISOString()
    const ended = new Date(start + i * 1_800_000 + t).toISOString()
    lines.push(Manifest.formatEntry({
      meetingId: `MSo${i}`.padEnd(120, "x"),
      organizerId: `organizer-${i % 50}`,
      contentCorrelationId: `cc-${i}`,
      match: "contentCorrelationId",
      recording: {
        id: `rec-${i}`.padEnd(150, "A"),
        createdDateTime: created,
        endDateTime: ended,
        path: `${dir}/recording.mp4`,
        bytes: 50_000_000 + i,
        sha256: "a".repeat(64),
        contentType: "video/mp4"
      },
      transcript: {
        id: `tr-${i}`.padEnd(150, "B"),
        createdDateTime: created,
        endDateTime: ended,
        path: `${dir}/transcript.vtt`,
        bytes: Buffer.byteLength(vtt),
        sha256: "b".repeat(64),
        cues: CUES
      }
    }))
  }
  fs.writeFileSync(path.join(out, Manifest.MANIFEST_FILE), lines.join("\n") + "\n")
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const fmt = (n: number) => `${n.toFixed(n < 10 ? 2 : 0)} ms`

const get = async (url: string) => {
  const r = await fetch(url)
  if (!r.ok) throw new Error(`${url}: ${r.status}`)
  return r.text()
}

const main = async () => {
  const out = dirArg ?? fs.mkdtempSync(path.join(os.tmpdir(), "bench-view-"))
  try {
    let t0 = process.hrtime.bigint()
    if (!fs.existsSync(path.join(out, Manifest.MANIFEST_FILE))) {
      fs.mkdirSync(out, { recursive: true })
      generate(out)
      console.log(`generated ${SETS} sets, ${SETS * CUES} cues in ${fmt(ms(t0))}`)
    } else {
      console.log(`reusing the export in ${out}`)
    }

    // Index build (once per export).
    t0 = process.hrtime.bigint()
    let scope = Effect.runSync(Scope.make())
    await Effect.runPromise(Scope.extend(serve({ out }), scope))
    const buildMs = ms(t0)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    console.log(
      `index opened (built when missing or stale) in ${fmt(buildMs)} (${
        (fs.statSync(path.join(out, ".meeting-artifacts", "view-index.sqlite")).size / 1e6).toFixed(0)
      } MB)`
    )

    // First page: a fresh server on the built index, then the page's requests.
    const firstPages: Array<number> = []
    const baselines: Array<number> = []
    let url = ""
    for (let run = 0; run < 5; run++) {
      // Baseline: the whole manifest read and parsed.
      t0 = process.hrtime.bigint()
      const parsed = fs.readFileSync(path.join(out, Manifest.MANIFEST_FILE), "utf8").trim().split("\n").map((l) =>
        JSON.parse(l)
      )
      if (parsed.length !== SETS) throw new Error("baseline read the wrong number of sets")
      baselines.push(ms(t0))

      t0 = process.hrtime.bigint()
      scope = Effect.runSync(Scope.make())
      url = (await Effect.runPromise(Scope.extend(serve({ out }), scope))).url
      await get(url)
      await get(`${url}assets/app.js`)
      await get(`${url}api/facets`)
      const page = JSON.parse(await get(`${url}api/sets?limit=50`))
      firstPages.push(ms(t0))
      if (page.total !== SETS || page.items.length !== 50) throw new Error("first page is wrong")
      if (run < 4) await Effect.runPromise(Scope.close(scope, Exit.void))
    }
    const sorted: Array<number> = []
    for (let run = 0; run < 5; run++) {
      t0 = process.hrtime.bigint()
      await get(`${url}api/sets?limit=50&sort=cost&dir=desc&text=organizer-7&offset=50`)
      sorted.push(ms(t0))
    }

    // Search: several queries, each a few times; baseline: scan every transcript for the rare word.
    const rare = "xylophonist"
    const queries = [rare, vocabulary[3]!, vocabulary[50]!.slice(0, 4), `${vocabulary[10]!} ${vocabulary[20]!}`]
    const searchTimes: Record<string, Array<number>> = {}
    for (const q of queries) {
      searchTimes[q] = []
      for (let run = 0; run < 5; run++) {
        t0 = process.hrtime.bigint()
        const r = JSON.parse(await get(`${url}api/search?q=${encodeURIComponent(q)}&limit=50`))
        searchTimes[q]!.push(ms(t0))
        if (run === 0) console.log(`  search "${q}": ${r.total}${r.more ? "+" : ""} hits`)
      }
    }
    const scanTimes: Array<number> = []
    for (let run = 0; run < 3; run++) {
      t0 = process.hrtime.bigint()
      let hits = 0
      for (let i = 0; i < SETS; i++) {
        const text = fs.readFileSync(path.join(out, `org-${i % 50}/meeting-${i}/transcript.vtt`), "utf8")
        for (let at = text.indexOf(rare); at >= 0; at = text.indexOf(rare, at + 1)) hits++
      }
      scanTimes.push(ms(t0))
      if (run === 0) console.log(`  scan "${rare}": ${hits} occurrences`)
    }
    await Effect.runPromise(Scope.close(scope, Exit.void))

    const first = median(firstPages)
    const base = median(baselines)
    const searchMedians = queries.map((q) => median(searchTimes[q]!))
    const worstSearch = Math.max(...searchMedians)
    const scan = median(scanTimes)
    console.log(`\nload: ${os.loadavg().map((l) => l.toFixed(1)).join(" ")} on ${os.cpus().length} cores`)
    console.log(
      `first page (fresh server, /, app.js, facets, 50 sets): median ${fmt(first)} (runs ${
        firstPages.map(fmt).join(", ")
      })`
    )
    console.log(`  baseline, read + parse manifest.jsonl: median ${fmt(base)}; ratio ${(first / base).toFixed(2)}x`)
    console.log(`sorted + filtered page 2: median ${fmt(median(sorted))}`)
    console.log(`search medians: ${queries.map((q, i) => `"${q}" ${fmt(searchMedians[i]!)}`).join(", ")}`)
    console.log(
      `  baseline, scan every transcript file: median ${fmt(scan)}; worst search / scan ${
        (worstSearch / scan).toFixed(3)
      }x`
    )
    console.log(
      `goals: first page <= 1000 ms: ${first <= 1000 ? "met" : "MISSED"}; search <= 200 ms: ${
        worstSearch <= 200 ? "met" : "MISSED"
      }`
    )
  } finally {
    if (dirArg === undefined) fs.rmSync(out, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
