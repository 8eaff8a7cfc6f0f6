/**
 * Errors of the sinks. Every failure to write, read or parse storage is a
 * `SinkError` naming the sink and the operation, so a caller can report which
 * output failed without inspecting causes.
 */
import * as Schema from "effect/Schema"

export class SinkError extends Schema.TaggedError<SinkError>()("SinkError", {
  /** Which sink: "filesystem", "manifest", "failures", "checkpoint", "sqlite", "postgres", "parquet", "azure-blob". */
  sink: Schema.String,
  /** What it was doing, e.g. "write", "rename", "migrate". */
  operation: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** A `--sink` spec that is not one of the accepted forms. */
export class InvalidSinkSpec extends Schema.TaggedError<InvalidSinkSpec>()("InvalidSinkSpec", {
  spec: Schema.String,
  message: Schema.String
}) {}
