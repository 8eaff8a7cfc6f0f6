/**
 * A transcript's metadataContent derived from its WebVTT when the fixture gives none: the same cues, each
 * payload one JSON object (`startDateTime`, `endDateTime`, `speakerName`, `spokenText`, `spokenLanguage`), as
 * Graph serves it. Times are the transcript's `createdDateTime` plus the cue offsets.
 */

const TIMING = /^\s*(\S+)\s+-->\s+(\S+)/

/** `H:M:S.f`, `M:S.f` (padded or not) → milliseconds; NaN when malformed. */
const cueMs = (text: string): number => {
  const parts = text.split(":")
  if (parts.length < 2 || parts.length > 3) return NaN
  const [h, m, s] = parts.length === 3 ? parts : ["0", ...parts]
  const seconds = Number(s)
  return (Number(h) * 3600 + Number(m) * 60) * 1000 + Math.round(seconds * 1000)
}

interface Cue {
  readonly id: string | undefined
  readonly timing: string
  readonly startMs: number
  readonly endMs: number
  readonly text: ReadonlyArray<string>
}

const parseCues = (vtt: string): Array<Cue> => {
  const blocks = vtt.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n").split(/\n{2,}/)
  const cues: Array<Cue> = []
  for (const block of blocks) {
    const lines = block.split("\n").filter((l) => l.length > 0)
    const at = lines.findIndex((l) => TIMING.test(l))
    if (at < 0 || at > 1) continue
    const m = TIMING.exec(lines[at]!)!
    const startMs = cueMs(m[1]!)
    const endMs = cueMs(m[2]!)
    if (Number.isNaN(startMs) || Number.isNaN(endMs)) continue
    cues.push({
      id: at === 1 ? lines[0] : undefined,
      timing: lines[at]!.trim(),
      startMs,
      endMs,
      text: lines.slice(at + 1)
    })
  }
  return cues
}

/** `<v Name>text</v>` over one or more lines → speaker and plain text (other tags dropped). */
const speakerAndText = (lines: ReadonlyArray<string>): { speakerName: string | null; spokenText: string } => {
  const joined = lines.join(" ")
  const voice = /<v(?:\.[^\s>]*)?\s+([^>]*)>/.exec(joined)
  const spokenText = joined.replace(/<[^>]*>/g, "").replace(/\s+/g, " ").trim()
  return { speakerName: voice ? voice[1]!.trim() : null, spokenText }
}

export const deriveMetadataContent = (vtt: string, baseMs: number, spokenLanguage = "en-us"): string => {
  const out = ["WEBVTT", ""]
  for (const cue of parseCues(vtt)) {
    const { speakerName, spokenText } = speakerAndText(cue.text)
    if (cue.id !== undefined) out.push(cue.id)
    out.push(
      cue.timing,
      JSON.stringify({
        startDateTime: new Date(baseMs + cue.startMs).toISOString(),
        endDateTime: new Date(baseMs + cue.endMs).toISOString(),
        speakerName,
        spokenText,
        spokenLanguage
      }),
      ""
    )
  }
  return out.join("\n")
}
