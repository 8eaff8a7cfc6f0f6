/**
 * One WebVTT cue of a Teams transcript. Times are milliseconds from the start
 * of the transcript; `speaker` is the `<v ...>` voice, null when the cue has none.
 */
import * as Schema from "effect/Schema"

export class Cue extends Schema.Class<Cue>("Cue")({
  id: Schema.NullOr(Schema.String),
  startMs: Schema.Number,
  endMs: Schema.Number,
  speaker: Schema.NullOr(Schema.String),
  text: Schema.String
}) {}
