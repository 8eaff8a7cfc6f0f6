/**
 * The default services of a sync: a Graph client, the filesystem content sink,
 * manifest and failures files under `<out>`, the checkpoint store (SQLite in
 * `<out>/.meeting-artifacts/state.sqlite` by default, or Postgres), and the
 * record sinks named by `--sink` specs.
 */
import { defaultPolicy, GraphClient, type GraphClientOptions, type GraphError } from "@meeting-artifacts/api"
import {
  CheckpointStore,
  Failures,
  FileSystemSink,
  Layout,
  Manifest,
  RecordSinks,
  type RecordSinkService,
  recordSinksLayer,
  RunLock,
  type SinkError,
  type SinkSpec
} from "@meeting-artifacts/sinks"
import * as fs from "node:fs"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { prestart as prestartPartWriter } from "./internal/partWriter.js"
import type { SyncServices } from "./Sync.js"

export interface SyncLayerOptions {
  readonly out: string
  /** A SQLite file, or a `postgres://` URL; default `<out>/.meeting-artifacts/state.sqlite`. */
  readonly state?: string | undefined
  readonly graph: GraphClientOptions
  readonly sinks?: ReadonlyArray<SinkSpec> | undefined
  /** Record sinks of your own (any `RecordSinkService`), written after the ones named by `sinks`. */
  readonly recordSinks?: ReadonlyArray<RecordSinkService> | undefined
  /**
   * A dry run writes nothing: it reads a SQLite state file through a private
   * copy (upgraded there when its schema is older), and an in-memory store
   * stands in for one that does not exist yet; a Postgres store is read as it
   * is (refused when its schema is older: see `CheckpointStore.layerPostgresAsIs`).
   */
  readonly dryRun?: boolean | undefined
}

export const statePathFor = (options: { readonly out: string; readonly state?: string | undefined }): string =>
  options.state ?? Layout.defaultStatePath(options.out)

const checkpointLayer = (options: SyncLayerOptions): Layer.Layer<CheckpointStore.CheckpointStore, SinkError> => {
  const state = statePathFor(options)
  if (/^postgres(ql)?:\/\//i.test(state)) {
    return options.dryRun === true ? CheckpointStore.layerPostgresAsIs(state) : CheckpointStore.layerPostgres(state)
  }
  if (options.dryRun !== true) return CheckpointStore.layerSqlite(state)
  // Opening the file would write next to it (its -wal and -shm files; an upgrade of its schema).
  return fs.existsSync(state) ? CheckpointStore.layerSqliteCopy(state) : CheckpointStore.layerSqlite(":memory:")
}

/**
 * The checkpoint store, with the run locks of `out` and of the store held for
 * the layer's lifetime (a dry run writes nothing and takes none). Everything
 * else is built after the locks are taken and closed before they are released,
 * so a second run never touches the manifest (not even loading it) while the
 * first one writes.
 */
const lockedCheckpointLayer = (
  options: SyncLayerOptions
): Layer.Layer<CheckpointStore.CheckpointStore, SinkError | RunLock.RunLockHeld> =>
  options.dryRun === true ? checkpointLayer(options) : Layer.scopedDiscard(
    Effect.flatMap(CheckpointStore.CheckpointStore, (store) => store.lock())
  ).pipe(
    Layer.provideMerge(checkpointLayer(options)),
    // The folder first: a second run stops before it even opens a store the first one is writing.
    Layer.provideMerge(Layer.scopedDiscard(RunLock.lockFolder(options.out)))
  )

/**
 * Before anything else of a run that writes: the part writer's worker starts, with the rings of as many
 * bodies as may download at once mapped (see internal/partWriterSpare.ts), so its thread comes up on
 * another core while the services below are built and discovery runs, not after the first large body's
 * bytes have arrived.
 */
const prestartLayer = (options: SyncLayerOptions): Layer.Layer<never> =>
  options.dryRun === true ?
    Layer.empty :
    Layer.effectDiscard(Effect.sync(() =>
      prestartPartWriter(options.graph.policy?.maxConcurrentDownloads ?? defaultPolicy.maxConcurrentDownloads)
    ))

/** Every service `sync` needs, from options. */
export const syncLayer = (
  options: SyncLayerOptions
): Layer.Layer<SyncServices, SinkError | GraphError | RunLock.RunLockHeld> =>
  Layer.mergeAll(
    FileSystemSink.layer(options.out),
    Manifest.layer(options.out, { flushOnClose: options.dryRun !== true }),
    Failures.layer(options.out),
    // A dry run writes no record, and opening a sink would create its file, tables or folder.
    options.dryRun === true
      ? Layer.succeed(RecordSinks, [])
      : options.recordSinks === undefined || options.recordSinks.length === 0
      ? recordSinksLayer(options.sinks ?? [])
      : Layer.effect(
        RecordSinks,
        Effect.map(RecordSinks, (fromSpecs) => [...fromSpecs, ...options.recordSinks!])
      ).pipe(Layer.provide(recordSinksLayer(options.sinks ?? [])))
  ).pipe(
    Layer.provideMerge(lockedCheckpointLayer(options)),
    // First: a client refused for its options (a bad base URL or token) leaves no file behind.
    Layer.provideMerge(GraphClient.layer(options.graph)),
    Layer.provideMerge(prestartLayer(options))
  )
