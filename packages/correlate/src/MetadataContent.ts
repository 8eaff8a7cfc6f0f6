/**
 * A transcript's `metadataContent`: WebVTT whose cue payloads are one JSON
 * object each with `startDateTime`, `endDateTime`, `speakerName`,
 * `spokenText` and `spokenLanguage` (graph-reference.md). The JSON may span
 * several lines and may be wrapped in a `<v Name>` span; unknown JSON
 * properties are ignored.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { Scanner } from "./internal/scanner.js"
import type { OnCue } from "./internal/scanner.js"
import { ParseError, ParseIssue } from "./ParseError.js"
import type { ParseOptions } from "./Vtt.js"

export class MetadataCue extends Schema.Class<MetadataCue>("MetadataCue")({
  id: Schema.NullOr(Schema.String),
  startMs: Schema.Number,
  endMs: Schema.Number,
  /** Absolute times as Graph wrote them (7 fractional digits kept). */
  startDateTime: Schema.NullOr(Schema.String),
  endDateTime: Schema.NullOr(Schema.String),
  speakerName: Schema.NullOr(Schema.String),
  spokenText: Schema.String,
  spokenLanguage: Schema.NullOr(Schema.String)
}) {}

export interface MetadataDocument {
  readonly cues: ReadonlyArray<MetadataCue>
  readonly issues: ReadonlyArray<ParseIssue>
}

const FIELDS = ["startDateTime", "endDateTime", "speakerName", "spokenText", "spokenLanguage"] as const

const builder = (s: string, out: Array<MetadataCue>): OnCue => (id, startMs, endMs, ps, pe) => {
  let js = ps, je = pe, voice: string | null = null
  if (s.startsWith("<v", ps) && (s.charCodeAt(ps + 2) === 32 || s.charCodeAt(ps + 2) === 46)) {
    const gt = s.indexOf(">", ps)
    if (gt === -1 || gt >= pe) return { offset: ps, message: "Unterminated voice tag \"<v\"" }
    voice = s.slice(s.indexOf(" ", ps) + 1 || ps + 3, gt).trim() || null
    js = gt + 1
    if (s.startsWith("</v>", je - 4) && je - 4 >= js) je -= 4
  }
  while (js < je && (s.charCodeAt(js) === 32 || s.charCodeAt(js) === 9)) js++
  if (js >= je) return { offset: ps, message: "Empty metadata payload (expected a JSON object)" }
  let value: unknown
  try {
    value = JSON.parse(s.slice(js, je))
  } catch (e) {
    return { offset: js, message: `Metadata payload is not valid JSON: ${(e as Error).message}` }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { offset: js, message: "Metadata payload must be a JSON object" }
  }
  const o = value as Record<string, unknown>
  for (const f of FIELDS) {
    const v = o[f]
    if (v !== undefined && v !== null && typeof v !== "string") {
      return { offset: js, message: `Metadata field "${f}" must be a string` }
    }
  }
  const str = (v: unknown): string | null => (typeof v === "string" ? v : null)
  out.push(
    new MetadataCue({
      id,
      startMs,
      endMs,
      startDateTime: str(o.startDateTime),
      endDateTime: str(o.endDateTime),
      speakerName: str(o.speakerName) ?? voice,
      spokenText: str(o.spokenText) ?? "",
      spokenLanguage: str(o.spokenLanguage)
    }, true)
  )
  return undefined
}

/** Synchronous form of `parseMetadataContent`. */
export const parseMetadataContentEither = (
  text: string,
  options?: ParseOptions
): Either.Either<MetadataDocument, ParseError> => {
  const strict = (options?.mode ?? "strict") === "strict"
  const cues: Array<MetadataCue> = []
  const issues: Array<ParseIssue> = []
  let first: ParseError | undefined
  new Scanner(text).scan(builder(text, cues), (i) => {
    if (strict) {
      first = new ParseError({ message: i.message, line: i.line, column: i.column })
      return true
    }
    issues.push(new ParseIssue({ message: i.message, line: i.line, column: i.column }, true))
    return false
  })
  return first !== undefined ? Either.left(first) : Either.right({ cues, issues })
}

/** Parses `metadataContent`; strict (default) fails with a `ParseError`, lenient skips bad cues into `issues`. */
export const parseMetadataContent: {
  (text: string, options: { readonly mode: "lenient" }): Effect.Effect<MetadataDocument>
  (text: string, options?: ParseOptions): Effect.Effect<MetadataDocument, ParseError>
} = ((text: string, options?: ParseOptions) => Effect.suspend(() => parseMetadataContentEither(text, options))) as any
