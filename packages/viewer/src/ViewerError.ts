/**
 * Errors of the viewer: an export that cannot be shown (no such folder, an
 * unreadable manifest), an index that cannot be built, a port that cannot be bound.
 */
import * as Schema from "effect/Schema"

export class ViewerError extends Schema.TaggedError<ViewerError>()("ViewerError", {
  /** What it was doing: "open", "index", "listen". */
  operation: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}
