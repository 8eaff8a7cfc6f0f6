/**
 * Summaries a user wants from a transcript: who spoke, how long and how
 * much, in which languages, and how long it lasted.
 */
import type { Cue } from "./Cue.js"
import type { MetadataCue } from "./MetadataContent.js"
import type { Utterance } from "./Utterance.js"

export interface SpeakerSummary {
  /** The voice name; null for cues without one. */
  readonly speaker: string | null
  /** Time this speaker talked, overlapping cues of the same speaker counted once. */
  readonly talkTimeMs: number
  /** Whitespace-separated words (scripts without spaces count per run of text). */
  readonly words: number
  readonly cues: number
}

export interface LanguageSummary {
  readonly language: string
  readonly cues: number
  readonly talkTimeMs: number
}

export interface TranscriptSummary {
  readonly cues: number
  /** From the first cue's start to the last cue's end (0 without cues). */
  readonly durationMs: number
  readonly firstStartMs: number | null
  readonly lastEndMs: number | null
  /** Sorted by talk time (longest first), then name. */
  readonly speakers: ReadonlyArray<SpeakerSummary>
  /** Only known from metadataContent cues; sorted by cue count, then code. */
  readonly spokenLanguages: ReadonlyArray<LanguageSummary>
  readonly words: number
}

type AnyCue = Cue | MetadataCue | Utterance

export const countWords = (text: string): number => {
  let words = 0
  let inWord = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    const space = c === 32 || c === 9 || c === 10 || c === 13 || c === 0xa0 || c === 0x3000 ||
      (c >= 0x2000 && c <= 0x200a)
    if (space) inWord = false
    else if (!inWord) {
      inWord = true
      words++
    }
  }
  return words
}

const unionLength = (intervals: Array<[number, number]>): number => {
  intervals.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let total = 0
  let cs = -Infinity, ce = -Infinity
  for (const [s, e] of intervals) {
    if (s > ce) {
      if (ce > cs) total += ce - cs
      cs = s
      ce = e
    } else if (e > ce) ce = e
  }
  if (ce > cs) total += ce - cs
  return total
}

/** Summarizes cues from `parseVtt`, `parseMetadataContent` (adds languages) or `utterances`. */
export const summarize = (cues: ReadonlyArray<AnyCue>): TranscriptSummary => {
  const speakers = new Map<string | null, { intervals: Array<[number, number]>; words: number; cues: number }>()
  const langs = new Map<string, { intervals: Array<[number, number]>; cues: number }>()
  let first = Infinity, last = -Infinity, words = 0
  for (const c of cues) {
    const isMeta = "spokenText" in c
    const speaker = isMeta ? c.speakerName : c.speaker
    const text = isMeta ? c.spokenText : c.text
    const w = countWords(text)
    words += w
    if (c.startMs < first) first = c.startMs
    if (c.endMs > last) last = c.endMs
    let sp = speakers.get(speaker)
    if (sp === undefined) speakers.set(speaker, sp = { intervals: [], words: 0, cues: 0 })
    sp.intervals.push([c.startMs, c.endMs])
    sp.words += w
    sp.cues++
    if (isMeta && c.spokenLanguage) {
      const key = c.spokenLanguage
      let l = langs.get(key)
      if (l === undefined) langs.set(key, l = { intervals: [], cues: 0 })
      l.intervals.push([c.startMs, c.endMs])
      l.cues++
    }
  }
  const speakerList: Array<SpeakerSummary> = Array.from(speakers, ([speaker, s]) => ({
    speaker,
    talkTimeMs: unionLength(s.intervals),
    words: s.words,
    cues: s.cues
  })).sort((a, b) => b.talkTimeMs - a.talkTimeMs || (a.speaker ?? "\uffff").localeCompare(b.speaker ?? "\uffff"))
  const langList: Array<LanguageSummary> = Array.from(langs, ([language, l]) => ({
    language,
    cues: l.cues,
    talkTimeMs: unionLength(l.intervals)
  })).sort((a, b) => b.cues - a.cues || (a.language < b.language ? -1 : a.language > b.language ? 1 : 0))
  const any = cues.length > 0
  return {
    cues: cues.length,
    durationMs: any ? last - first : 0,
    firstStartMs: any ? first : null,
    lastEndMs: any ? last : null,
    speakers: speakerList,
    spokenLanguages: langList,
    words
  }
}
