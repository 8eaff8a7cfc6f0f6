/**
 * Parquet sink (placeholder while being implemented).
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { RecordSinkService, WriteDisposition } from "./RecordSink.js"
import { SinkError } from "./SinkError.js"

export interface ParquetOptions {
  readonly dir: string
  readonly disposition?: WriteDisposition | undefined
}

export const make = (_options: ParquetOptions): Effect.Effect<RecordSinkService, SinkError, Scope.Scope> =>
  Effect.fail(new SinkError({ sink: "parquet", operation: "make", message: "parquet: not implemented yet" }))
