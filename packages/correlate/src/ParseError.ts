/**
 * Errors of the WebVTT and metadataContent parsers. `line` and `column` are
 * 1-based and point at the offending character (a leading BOM is not counted).
 */
import * as Schema from "effect/Schema"

export class ParseError extends Schema.TaggedError<ParseError>()("ParseError", {
  message: Schema.String,
  line: Schema.Number,
  column: Schema.Number
}) {}

/** A problem the lenient parsers skipped past: the cue (or block) starting at `line` was dropped. */
export class ParseIssue extends Schema.Class<ParseIssue>("ParseIssue")({
  message: Schema.String,
  line: Schema.Number,
  column: Schema.Number
}) {}
