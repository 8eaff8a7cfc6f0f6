/**
 * Building record sinks from `--sink` specs.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as AzureBlobSink from "./AzureBlobSink.js"
import * as ParquetSink from "./ParquetSink.js"
import { RecordSinks, type RecordSinkService } from "./RecordSink.js"
import type { SinkError } from "./SinkError.js"
import { formatSinkSpec, type SinkSpec } from "./SinkSpec.js"
import * as SqlRecordSink from "./SqlRecordSink.js"

/** Open the sink a spec names (connections, migrations, containers); closed with the scope. */
export const makeRecordSink = (spec: SinkSpec): Effect.Effect<RecordSinkService, SinkError, Scope.Scope> => {
  const name = formatSinkSpec(spec)
  switch (spec._tag) {
    case "sqlite":
      return SqlRecordSink.makeSqlite(spec.path, { disposition: spec.disposition, name })
    case "postgres":
      return SqlRecordSink.makePostgres(spec.url, { disposition: spec.disposition, name })
    case "parquet":
      return Effect.map(ParquetSink.make({ dir: spec.dir, disposition: spec.disposition }), (s) => ({ ...s, name }))
    case "azure-blob":
      return Effect.map(
        AzureBlobSink.make({ container: spec.container, prefix: spec.prefix, disposition: spec.disposition }),
        (s) => ({ ...s, name })
      )
  }
}

/** Open every spec's sink, in order. */
export const makeRecordSinks = (
  specs: ReadonlyArray<SinkSpec>
): Effect.Effect<ReadonlyArray<RecordSinkService>, SinkError, Scope.Scope> => Effect.forEach(specs, makeRecordSink)

/** `RecordSinks` for these specs. */
export const recordSinksLayer = (specs: ReadonlyArray<SinkSpec>): Layer.Layer<RecordSinks, SinkError> =>
  Layer.scoped(RecordSinks, makeRecordSinks(specs))
