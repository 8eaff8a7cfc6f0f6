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

/** @internal */
export const sinkError = (sink: string, operation: string) => (cause: unknown): SinkError =>
  new SinkError({
    sink,
    operation,
    message: `${sink}: ${operation} failed: ${describe(cause)}`,
    cause
  })

const describe = (cause: unknown): string => {
  if (cause instanceof Error) return cause.message
  if (typeof cause === "object" && cause !== null && "message" in cause) return String(cause.message)
  return String(cause)
}
