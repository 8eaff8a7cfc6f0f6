/**
 * Utterances: Teams splits one person's long utterance into several cues
 * with ids `GUID/n-0`, `GUID/n-1`, ... (k counts the pieces). Merging them
 * back gives what was actually said, as one unit, in time order.
 */
import * as Schema from "effect/Schema"
import type { Cue } from "./Cue.js"

export class Utterance extends Schema.Class<Utterance>("Utterance")({
  /** The utterance id (`GUID/n` for split cues, else the cue's own id). */
  id: Schema.NullOr(Schema.String),
  startMs: Schema.Number,
  endMs: Schema.Number,
  speaker: Schema.NullOr(Schema.String),
  /** The pieces' texts in piece order, joined by a space. */
  text: Schema.String,
  /** The ids of the cues merged into this utterance, in piece order. */
  cueIds: Schema.Array(Schema.NullOr(Schema.String))
}) {}

/** Splits a `GUID/n-k` cue id into its utterance id and piece number; undefined for other ids. */
export const splitCueId = (id: string | null): { readonly utterance: string; readonly piece: number } | undefined => {
  if (id === null) return undefined
  const slash = id.lastIndexOf("/")
  const dash = id.lastIndexOf("-")
  if (slash < 0 || dash < slash + 2 || dash === id.length - 1) return undefined
  let piece = 0
  for (let i = dash + 1; i < id.length; i++) {
    const d = id.charCodeAt(i) - 48
    if (d < 0 || d > 9) return undefined
    piece = piece * 10 + d
  }
  return { utterance: id.slice(0, dash), piece }
}

/**
 * Merges split cues into utterances (pieces may be interleaved with other
 * speakers' cues and out of order) and returns all utterances sorted by
 * start, then end, then first appearance.
 */
export const utterances = (cues: ReadonlyArray<Cue>): Array<Utterance> => {
  interface Acc {
    readonly id: string | null
    readonly order: number
    readonly pieces: Array<{ piece: number; order: number; cue: Cue }>
  }
  const byId = new Map<string, Acc>()
  const all: Array<Acc> = []
  for (let i = 0; i < cues.length; i++) {
    const c = cues[i]
    const split = splitCueId(c.id)
    if (split === undefined) {
      all.push({ id: c.id, order: i, pieces: [{ piece: 0, order: i, cue: c }] })
      continue
    }
    let acc = byId.get(split.utterance)
    if (acc === undefined) {
      acc = { id: split.utterance, order: i, pieces: [] }
      byId.set(split.utterance, acc)
      all.push(acc)
    }
    acc.pieces.push({ piece: split.piece, order: i, cue: c })
  }
  const out = all.map((acc) => {
    const ps = acc.pieces.length > 1 ?
      acc.pieces.slice().sort((a, b) => a.piece - b.piece || a.cue.startMs - b.cue.startMs || a.order - b.order) :
      acc.pieces
    let start = Infinity, end = -Infinity
    let speaker: string | null = null
    const texts: Array<string> = []
    for (const p of ps) {
      if (p.cue.startMs < start) start = p.cue.startMs
      if (p.cue.endMs > end) end = p.cue.endMs
      if (speaker === null) speaker = p.cue.speaker
      const t = p.cue.text.trim()
      if (t.length > 0) texts.push(t)
    }
    return {
      order: acc.order,
      u: new Utterance({
        id: acc.id,
        startMs: start,
        endMs: end,
        speaker,
        text: texts.join(" "),
        cueIds: ps.map((p) => p.cue.id)
      }, true)
    }
  })
  out.sort((a, b) => a.u.startMs - b.u.startMs || a.u.endMs - b.u.endMs || a.order - b.order)
  return out.map((x) => x.u)
}
