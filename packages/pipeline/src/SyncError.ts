/**
 * Errors that stop a whole run. Per-item failures never surface here: they go
 * to the dead-letter record and `failures.jsonl`, and the run goes on.
 */
import * as Schema from "effect/Schema"

/** The options of a run are unusable (bad window, no organizer, bad URL, ...). */
export class InvalidSyncOptions extends Schema.TaggedError<InvalidSyncOptions>()("InvalidSyncOptions", {
  message: Schema.String
}) {}

/**
 * A failure no retry or per-item handling can fix: the token is rejected, the
 * app lacks an application access policy or permissions, billing is missing,
 * the state store or output directory is unusable.
 */
export class SyncFatalError extends Schema.TaggedError<SyncFatalError>()("SyncFatalError", {
  message: Schema.String,
  status: Schema.NullOr(Schema.Number),
  code: Schema.NullOr(Schema.String),
  requestId: Schema.NullOr(Schema.String),
  /** What the operator or tenant admin does about it. */
  fix: Schema.NullOr(Schema.String)
}) {
  /** One line for a terminal: message, Graph code, request-id and the fix. */
  get oneLine(): string {
    const parts = [this.message]
    if (this.status !== null) parts.push(`HTTP ${this.status}`)
    if (this.code !== null) parts.push(`code ${this.code}`)
    if (this.requestId !== null) parts.push(`request-id ${this.requestId}`)
    const line = parts.join("; ")
    return this.fix !== null ? `${line}. Fix: ${this.fix}` : line
  }
}
