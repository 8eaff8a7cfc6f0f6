/**
 * WebVTT as Teams produces it (see graph-reference.md, "Teams WebVTT as
 * really produced"): cue ids `GUID/n-k`, unpadded `H:M:S.f` timestamps,
 * `<v Name>` voice spans over several lines, names with commas and
 * non-ASCII, cues without a voice, unsorted cues, a BOM, CRLF, NOTE/STYLE
 * blocks.
 *
 * Cues come back in file order (use `sortCues` or `utterances` for time
 * order), text with the voice tag removed, lines joined by "\n", and the
 * entities `&amp; &lt; &gt; &nbsp; &lrm; &rlm;` decoded.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { Cue } from "./Cue.js"
import { makeCue } from "./internal/construct.js"
import { Scanner, countArrows } from "./internal/scanner.js"
import type { OnCue } from "./internal/scanner.js"
import { ParseError, ParseIssue } from "./ParseError.js"

export type ParseMode = "strict" | "lenient"

export interface ParseOptions {
  /** `strict` (default) fails on the first malformed block; `lenient` skips it and reports it in `issues`. */
  readonly mode?: ParseMode | undefined
}

export interface VttDocument {
  readonly cues: ReadonlyArray<Cue>
  /** The blocks lenient mode skipped (always empty in strict mode). */
  readonly issues: ReadonlyArray<ParseIssue>
}

const LT = 60

const decodeEntities = (s: string): string =>
  s.replace(/&(amp|lt|gt|nbsp|lrm|rlm|quot|apos);/g, (_, e: string) =>
    e === "amp" ?
      "&" :
      e === "lt" ?
      "<" :
      e === "gt" ?
      ">" :
      e === "nbsp" ?
      "\u00a0" :
      e === "lrm" ?
      "\u200e" :
      e === "rlm" ?
      "\u200f" :
      e === "quot" ?
      "\"" :
      "'")

/** Removes any further `<v ...>` / `</v>` tags inside a cue's text (some writers repeat the voice per line). */
const stripVoiceTags = (t: string): string => t.replace(/<\/v>|<v(?:\.[^\s>]*)?(?:[ \t][^>]*)?>/g, "")

/**
 * Splits a payload into speaker and text. Returns an error offset (relative
 * to the payload start) when a voice tag is not closed by ">".
 */
const makeCueBuilder = (s: string, out: Array<Cue>, hasCR: boolean): OnCue => {
  // A meeting has few speakers: reuse their name strings (raw, and entity-decoded)
  // instead of slicing one per cue.
  const raw: Array<string> = []
  const decoded: Array<string> = []
  // Index of the next "<" / "&" at or after the last search (2^32-1 when there is none):
  // "&" may be far away, and searching again per cue would be quadratic.
  let nextAmp = -1
  let nextLt = -1
  const nameAt = (ns: number, ne: number): string => {
    const len = ne - ns
    for (let i = 0; i < raw.length; i++) {
      if (raw[i].length === len && s.startsWith(raw[i], ns)) return decoded[i]
    }
    const n = s.slice(ns, ne)
    const d = n.indexOf("&") !== -1 ? decodeEntities(n) : n
    if (raw.length < 64) {
      raw.push(n)
      decoded.push(d)
    }
    return d
  }
  return (id, startMs, endMs, ps, pe) => {
    let speaker: string | null = null
    let ts = ps
    let te = pe
    if (
      pe - ps >= 3 && s.charCodeAt(ps) === LT && s.charCodeAt(ps + 1) === 118 /* v */
    ) {
      const c2 = s.charCodeAt(ps + 2)
      let gt = -1
      if (c2 === 32) {
        // Fast path: "<v Known Name>" — check the cached names where they would end.
        for (let i = 0; i < raw.length; i++) {
          const g = ps + 3 + raw[i].length
          if (g < pe && s.charCodeAt(g) === 62 && s.startsWith(raw[i], ps + 3)) {
            gt = g
            speaker = decoded[i]
            break
          }
        }
      }
      if (gt === -1 && (c2 === 32 || c2 === 9 || c2 === 46 /* . classes */)) {
        gt = s.indexOf(">", ps + 2)
        if (gt === -1 || gt >= pe) return { offset: ps, message: "Unterminated voice tag \"<v\"" }
        // The name starts after the first whitespace (skipping `.class` annotations).
        let ns = ps + 2
        while (ns < gt && s.charCodeAt(ns) !== 32 && s.charCodeAt(ns) !== 9) ns++
        // Trim the name without allocating.
        while (ns < gt && (s.charCodeAt(ns) === 32 || s.charCodeAt(ns) === 9)) ns++
        let ne = gt
        while (ne > ns && (s.charCodeAt(ne - 1) === 32 || s.charCodeAt(ne - 1) === 9)) ne--
        speaker = ne > ns ? nameAt(ns, ne) : null
      }
      if (gt !== -1) {
        ts = gt + 1
        if (
          te - ts >= 4 && s.charCodeAt(te - 1) === 62 && s.charCodeAt(te - 2) === 118 &&
          s.charCodeAt(te - 3) === 47 && s.charCodeAt(te - 4) === 60
        ) te -= 4
      }
    }
    let text = s.slice(ts, te)
    if (hasCR && text.indexOf("\r") !== -1) text = text.replace(/\r\n/g, "\n")
    if (nextLt < ts) nextLt = s.indexOf("<", ts) >>> 0
    if (nextLt < te) text = stripVoiceTags(text)
    if (nextAmp < ts) nextAmp = s.indexOf("&", ts) >>> 0
    if (nextAmp < te) text = decodeEntities(text)
    out.push(makeCue(id, startMs, endMs, speaker, text))
    return undefined
  }
}

/** Parses synchronously; strict mode returns the first error as a Left. */
export const parseVttEither = (text: string, options?: ParseOptions): Either.Either<VttDocument, ParseError> => {
  const strict = (options?.mode ?? "strict") === "strict"
  const cues: Array<Cue> = []
  const issues: Array<ParseIssue> = []
  let first: ParseError | undefined
  const scanner = new Scanner(text)
  scanner.scan(makeCueBuilder(text, cues, scanner.hasCR), (i) => {
    if (strict) {
      first = new ParseError({ message: i.message, line: i.line, column: i.column })
      return true
    }
    issues.push(new ParseIssue({ message: i.message, line: i.line, column: i.column }, true))
    return false
  })
  return first !== undefined ? Either.left(first) : Either.right({ cues, issues })
}

/**
 * Parses a Teams WebVTT transcript. Strict mode (the default) fails with a
 * `ParseError` carrying line and column; lenient mode never fails and lists
 * the skipped blocks in `issues`.
 */
export const parseVtt: {
  (text: string, options: { readonly mode: "lenient" }): Effect.Effect<VttDocument>
  (text: string, options?: ParseOptions): Effect.Effect<VttDocument, ParseError>
} = ((text: string, options?: ParseOptions) => Effect.suspend(() => parseVttEither(text, options))) as any

/**
 * Counts the cues of a WebVTT text without building them (each cue has
 * exactly one "-->"); equals `parseVtt(text).cues.length` for valid input.
 * This is the manifest's `cues` figure.
 */
export const countCues = (text: string): number => countArrows(text)

/**
 * An incremental cue counter over the bytes of a download (UTF-8), so the
 * count comes for free while the transcript streams to disk. "-->" split
 * across chunks is handled.
 */
export interface CueCounter {
  readonly update: (chunk: Uint8Array) => void
  readonly count: () => number
}

export const makeCueCounter = (): CueCounter => {
  let count = 0
  // The last two bytes of the previous chunk ("-->" may straddle chunks).
  let last1 = 0, last2 = 0
  return {
    update(chunk) {
      const n = chunk.length
      if (n === 0) return
      let p = chunk.indexOf(62 /* > */)
      while (p !== -1) {
        const b1 = p >= 1 ? chunk[p - 1] : last1
        const b2 = p >= 2 ? chunk[p - 2] : p === 1 ? last1 : last2
        if (b1 === 45 && b2 === 45) count++
        p = chunk.indexOf(62, p + 1)
      }
      last2 = n >= 2 ? chunk[n - 2] : last1
      last1 = chunk[n - 1]
    },
    count: () => count
  }
}

const two = (n: number): string => (n < 10 ? "0" + n : "" + n)
const three = (n: number): string => (n < 10 ? "00" + n : n < 100 ? "0" + n : "" + n)

/** `HH:MM:SS.mmm` for a millisecond offset. */
export const formatTimestamp = (ms: number): string => {
  const t = Math.max(0, Math.round(ms))
  const h = Math.floor(t / 3_600_000)
  const m = Math.floor(t / 60_000) % 60
  const s = Math.floor(t / 1000) % 60
  return `${two(h)}:${two(m)}:${two(s)}.${three(t % 1000)}`
}

const escapeText = (s: string): string =>
  s.indexOf("&") === -1 && s.indexOf("<") === -1 && s.indexOf(">") === -1 ?
    s :
    s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/**
 * Writes cues as Teams-style WebVTT (`<v Name>` voice spans, "\n" line
 * ends). `parseVtt(formatVtt(cues))` gives the cues back.
 */
export const formatVtt = (cues: Iterable<Pick<Cue, "id" | "startMs" | "endMs" | "speaker" | "text">>): string => {
  const parts: Array<string> = ["WEBVTT\n"]
  for (const c of cues) {
    let block = "\n"
    if (c.id !== null && c.id !== "") block += c.id + "\n"
    block += formatTimestamp(c.startMs) + " --> " + formatTimestamp(c.endMs) + "\n"
    const text = escapeText(c.text)
    if (c.speaker !== null) {
      const name = escapeText(c.speaker)
      // A name ending in "-" would write "-->" (a cue boundary); the parser trims the space back off.
      block += `<v ${name}${name.endsWith("-") ? " " : ""}>${text}</v>\n`
    } else {
      block += text + "\n"
    }
    parts.push(block)
  }
  return parts.join("")
}

/** Cues in time order (start, then end, then file order). */
export const sortCues = <C extends { readonly startMs: number; readonly endMs: number }>(
  cues: ReadonlyArray<C>
): Array<C> =>
  cues.map((c, i) => ({ c, i })).sort((a, b) => a.c.startMs - b.c.startMs || a.c.endMs - b.c.endMs || a.i - b.i).map((
    x
  ) => x.c)
