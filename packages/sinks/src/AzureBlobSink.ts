/**
 * Azure Blob Storage (and ADLS Gen2) sink.
 *
 * Content: streamed as 4 MiB blocks (`stageBlock`, a few in flight) and made
 * visible in one `commitBlockList`, so memory stays bounded whatever the size
 * and readers see the old blob or the new one, never a partial one. Each
 * content blob carries `sha256` and `bytes` metadata; a blob whose name and
 * hash already match is not uploaded again.
 *
 * Records (`writeSet`), under `<prefix>` with the filesystem `Layout`:
 * ```
 * <organizer>/<meeting>/recording-<id>.mp4          content (copied from <out> when `root` is given)
 * <organizer>/<meeting>/recording-<id>.json         the Graph recording + file facts
 * <organizer>/<meeting>/transcript-<id>.vtt         content
 * <organizer>/<meeting>/transcript-<id>.json        the Graph transcript + file facts + metadataContent
 * <organizer>/<meeting>/transcript-<id>.cues.json   the parsed cues
 * <organizer>/<meeting>/set-<setId>.json            the correlated set (merge) / set-<setId>.<loadId>.json (append)
 * runs/<runId>.json
 * ```
 * The JSON documents of an ad hoc call's set carry `"source": "adhocCall"` after `meetingId` (the call's
 * id), as its manifest line does. JSON blobs hold no write timestamps, so rewriting the same set is a no-op
 * (same name, same hash). Merge re-pairing replaces the set blobs of the meeting
 * that held the set's artifacts and keeps their other artifact alone: the new
 * blob is written before the old ones are split or deleted.
 *
 * Credentials: `connectionString` or AZURE_STORAGE_CONNECTION_STRING; else
 * `accountUrl` (or AZURE_STORAGE_ACCOUNT_URL, or AZURE_STORAGE_ACCOUNT) with an
 * `@azure/identity` credential (default `DefaultAzureCredential`).
 */
import type { TokenCredential } from "@azure/identity"
import type { ArtifactSet } from "@meeting-artifacts/correlate"
import type { BlobServiceClient, ContainerClient } from "@azure/storage-blob"
import { createHash, type Hash, randomBytes, randomUUID } from "node:crypto"
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { RunRecord } from "./CheckpointStore.js"
import type { ContentSinkService, ExpectedContent, WrittenContent } from "./ContentSink.js"
import { meetingDir, segment } from "./Layout.js"
import {
  type ArtifactSetWrite,
  artifactSetId,
  meetingDate,
  type RecordSinkService,
  type SetFile,
  setIdOf,
  type WriteDisposition
} from "./RecordSink.js"
import { SinkError } from "./SinkError.js"
import { loadDriver } from "./internal/drivers.js"
import { sinkError } from "./internal/errors.js"

const SINK = "azure-blob"

export interface AzureBlobOptions {
  readonly container: string
  /** Blob name prefix, "" or ending in "/". */
  readonly prefix?: string | undefined
  readonly disposition?: WriteDisposition | undefined
  /** Defaults to AZURE_STORAGE_CONNECTION_STRING. */
  readonly connectionString?: string | undefined
  /** With a credential: https://<account>.blob.core.windows.net (default AZURE_STORAGE_ACCOUNT_URL / AZURE_STORAGE_ACCOUNT). */
  readonly accountUrl?: string | undefined
  /** Default: `DefaultAzureCredential` from @azure/identity. */
  readonly credential?: TokenCredential | undefined
  /** Create the container when missing (default true). */
  readonly createContainer?: boolean | undefined
  /** Block size for content uploads (default 4 MiB). */
  readonly blockSize?: number | undefined
  /** Blocks staged concurrently (default 2; memory is (concurrency + 1) x blockSize). */
  readonly concurrency?: number | undefined
}

export interface AzureBlobSinkService extends RecordSinkService {
  /** Content sink on the same container and prefix. */
  readonly content: ContentSinkService
  readonly containerClient: ContainerClient
  readonly prefix: string
}

/**
 * The blob name of a layout path under a prefix. Refuses empty, "." and ".."
 * segments, backslashes and NUL, so no name escapes the prefix even for tools
 * that treat names as paths (ADLS hierarchical namespace).
 */
export const blobName = (prefix: string, relPath: string): string => {
  const parts = relPath.split("/")
  if (
    relPath.length === 0 || relPath.includes("\\") || relPath.includes("\0") ||
    parts.some((p) => p === "" || p === "." || p === "..")
  ) {
    throw new SinkError({
      sink: SINK,
      operation: "name",
      message: `azure-blob: ${JSON.stringify(relPath)} is not a safe blob path`
    })
  }
  return prefix + relPath
}

const safeName = (prefix: string, relPath: string) =>
  Effect.try({ try: () => blobName(prefix, relPath), catch: (e) => e as SinkError })

const az = (op: string) => sinkError(SINK, op)

// @azure/storage-blob is an optional peer dependency: loaded only when an Azure Blob sink is opened.
const resolveClient = (options: AzureBlobOptions): Effect.Effect<BlobServiceClient, SinkError> =>
  Effect.flatMap(
    loadDriver(SINK, "@azure/storage-blob", () => import("@azure/storage-blob")),
    ({ BlobServiceClient }) =>
      Effect.tryPromise({
        try: async () => {
          const cs = options.connectionString ?? process.env.AZURE_STORAGE_CONNECTION_STRING
          if (cs) return BlobServiceClient.fromConnectionString(cs)
          const account = process.env.AZURE_STORAGE_ACCOUNT
          const url = options.accountUrl ?? process.env.AZURE_STORAGE_ACCOUNT_URL ??
            (account ? `https://${account}.blob.core.windows.net` : undefined)
          if (!url) {
            throw new Error(
              "no credentials: set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_URL / AZURE_STORAGE_ACCOUNT with an Azure identity"
            )
          }
          const credential = options.credential ?? new (await import("@azure/identity")).DefaultAzureCredential()
          return new BlobServiceClient(url, credential)
        },
        catch: az("connect")
      })
  )

/** The block staging of one upload (see `stageAndCommit`). */
interface Uploader {
  readonly hash: Hash
  /** Bytes staged so far. */
  bytes: number
  /** A free block buffer (waits for a staged block when all are in use). */
  readonly nextBuffer: () => Promise<Buffer>
  /** Stage `length` bytes of `buffer` (from `nextBuffer`; it returns to the pool once staged). */
  readonly stage: (buffer: Buffer, length: number) => void
  /** Give back a buffer from `nextBuffer` that will not be staged. */
  readonly release: (buffer: Buffer) => void
  /** Copy bytes into blocks, staging each full block (hashes them). */
  readonly push: (chunk: Uint8Array) => Promise<void>
}

/** `{ source }` for the documents of an ad hoc call's set (its id is their meetingId); nothing for meetings. */
const sourceOf = (set: ArtifactSet) => (set.source !== undefined ? { source: set.source } : {})

const jsonBytes = (v: unknown) => Buffer.from(JSON.stringify(v, null, 2) + "\n", "utf8")

/** Open the container (creating it unless told not to) and return the sink. */
export const make = (options: AzureBlobOptions): Effect.Effect<AzureBlobSinkService, SinkError, Scope.Scope> =>
  Effect.gen(function*() {
    const service = yield* resolveClient(options)
    const container = service.getContainerClient(options.container)
    if (options.createContainer !== false) {
      yield* Effect.tryPromise({ try: () => container.createIfNotExists(), catch: az("createContainer") })
    }
    const prefix = options.prefix ?? ""
    const disposition = options.disposition ?? "merge"
    const blockSize = options.blockSize ?? 4 * 1024 * 1024
    const concurrency = options.concurrency ?? 2

    const stat = (name: string): Effect.Effect<ExpectedContent | null, SinkError> =>
      Effect.tryPromise({
        try: async () => {
          try {
            const p = await container.getBlockBlobClient(name).getProperties()
            const sha = p.metadata?.["sha256"]
            return sha ? { bytes: p.contentLength ?? 0, sha256: sha } : null
          } catch (e: any) {
            if (e?.statusCode === 404) return null
            throw e
          }
        },
        catch: az("getProperties")
      })

    const isCompleteName = (name: string, expected: ExpectedContent) =>
      Effect.map(stat(name), (s) => s !== null && s.bytes === expected.bytes && s.sha256 === expected.sha256)

    // Idle block buffers kept between uploads (at most one upload's worth), so
    // a sync copying many files does not leave 12 MB of dead buffers per file
    // for the GC. Concurrent uploads allocate their own and return what fits.
    const spare: Array<Buffer> = []
    const poolSize = concurrency + 1

    /**
     * Stage blocks (`concurrency` in flight) and commit them with the hash as
     * metadata. `produce` fills blocks through `push` (bytes in any sizes) or
     * `nextBuffer` + `stage` (a whole block read in place). Blocks come from
     * `concurrency + 1` buffers: the memory bound of an upload. Plain promises
     * per chunk (no per-chunk Stream stages) keep the garbage per chunk small.
     */
    const stageAndCommit = <E, R>(
      name: string,
      produce: (u: Uploader) => Effect.Effect<void, E | SinkError, R>,
      contentType: string | undefined
    ): Effect.Effect<{ bytes: number; sha256: string }, E | SinkError, R> =>
      Effect.suspend(() => {
        const blob = container.getBlockBlobClient(name)
        const abort = new AbortController()
        const pool: Array<Buffer> = spare.splice(0, poolSize)
        let allocated = pool.length
        const inflight = new Set<Promise<void>>()
        const ids: Array<string> = []
        const tag = randomBytes(8).toString("hex")
        let failure: { error: unknown } | undefined
        let current: Buffer | null = null
        let filled = 0
        const u: Uploader = {
          hash: createHash("sha256"),
          bytes: 0,
          nextBuffer: async () => {
            for (;;) {
              if (failure) throw failure.error
              if (abort.signal.aborted) throw new Error("upload interrupted")
              // at most `concurrency` blocks staging while the next one fills
              if (inflight.size >= concurrency) {
                await Promise.race(inflight)
                continue
              }
              const b = pool.pop()
              if (b) return b
              if (allocated < poolSize) {
                allocated++
                return Buffer.allocUnsafeSlow(blockSize)
              }
              // every buffer is staging: wait for one (never empty here, but never hang)
              if (inflight.size === 0) throw new Error("azure-blob: no block buffer free")
              await Promise.race(inflight)
            }
          },
          release: (buffer) => {
            pool.push(buffer)
          },
          stage: (buffer, length) => {
            const id = Buffer.from(`${tag}-${String(ids.length).padStart(8, "0")}`).toString("base64")
            ids.push(id)
            u.bytes += length
            const p: Promise<void> = blob.stageBlock(id, buffer.subarray(0, length), length, {
              abortSignal: abort.signal
            })
              .then(
                () => undefined,
                (error) => {
                  failure ??= { error }
                }
              )
              .finally(() => {
                inflight.delete(p)
                pool.push(buffer)
              })
            inflight.add(p)
          },
          push: async (chunk) => {
            u.hash.update(chunk)
            let off = 0
            while (off < chunk.length) {
              if (current === null) {
                current = await u.nextBuffer()
                filled = 0
              }
              const n = Math.min(chunk.length - off, blockSize - filled)
              current.set(n === chunk.length ? chunk : chunk.subarray(off, off + n), filled)
              filled += n
              off += n
              if (filled === blockSize) {
                const full = current
                current = null
                u.stage(full, blockSize)
              }
            }
            if (failure) throw failure.error
          }
        }
        return produce(u).pipe(
          Effect.zipRight(Effect.tryPromise({
            try: async () => {
              if (current !== null && filled > 0) u.stage(current, filled)
              else if (current !== null) pool.push(current)
              current = null
              await Promise.all(inflight)
              if (failure) throw failure.error
              const sha256 = u.hash.digest("hex")
              await blob.commitBlockList(ids, {
                metadata: { sha256, bytes: String(u.bytes) },
                ...(contentType ? { blobHTTPHeaders: { blobContentType: contentType } } : {})
              })
              return { bytes: u.bytes, sha256 }
            },
            catch: az("stageBlock")
          })),
          Effect.onExit((exit) =>
            Effect.promise(async () => {
              if (exit._tag === "Failure") abort.abort()
              // No buffer goes back while a request may still read it.
              await Promise.allSettled([...inflight])
              if (current !== null) pool.push(current)
              spare.push(...pool.splice(0, poolSize - spare.length))
            })
          )
        )
      })

    /** Stream into blob `name`, copying chunks into pooled blocks. */
    const upload = <E, R>(name: string, content: Stream.Stream<Uint8Array, E, R>, contentType: string | undefined) =>
      stageAndCommit(
        name,
        (u) =>
          Stream.runForEachChunk(content, (chunk) =>
            Effect.tryPromise({
              try: async () => {
                for (const c of chunk) await u.push(c)
              },
              catch: az("stageBlock")
            })),
        contentType
      )

    /** Upload a local file, read straight into pooled blocks (no per-read allocation). */
    const uploadFile = (name: string, abs: string, contentType: string | undefined) =>
      Effect.acquireUseRelease(
        Effect.tryPromise({ try: () => fsp.open(abs, "r"), catch: az("open") }),
        (fh) =>
          stageAndCommit(name, (u) =>
            Effect.tryPromise({
              try: async () => {
                const { size } = await fh.stat()
                for (let pos = 0; pos < size;) {
                  const buffer = await u.nextBuffer()
                  const want = Math.min(blockSize, size - pos)
                  let filled = 0
                  try {
                    while (filled < want) {
                      const { bytesRead } = await fh.read(buffer, filled, want - filled, pos + filled)
                      if (bytesRead === 0) throw new Error(`${abs} shrank while reading`)
                      filled += bytesRead
                    }
                  } catch (e) {
                    u.release(buffer)
                    throw e
                  }
                  u.hash.update(buffer.subarray(0, filled))
                  u.stage(buffer, filled)
                  pos += filled
                }
              },
              catch: az("read")
            }), contentType),
        (fh) => Effect.promise(() => fh.close())
      )

    /** Upload small bytes unless the blob already holds exactly them. */
    const putIfChanged = (name: string, body: Buffer, contentType: string) =>
      Effect.gen(function*() {
        const sha256 = createHash("sha256").update(body).digest("hex")
        if (yield* isCompleteName(name, { bytes: body.length, sha256 })) return false
        yield* Effect.tryPromise({
          try: () =>
            container.getBlockBlobClient(name).upload(body, body.length, {
              metadata: { sha256, bytes: String(body.length) },
              blobHTTPHeaders: { blobContentType: contentType }
            }),
          catch: az("upload")
        })
        return true
      })

    const content: ContentSinkService = {
      name: `azure-blob:${options.container}${prefix ? "/" + prefix : ""}`,
      write: <E, R>(
        path: string,
        stream: Stream.Stream<Uint8Array, E, R>,
        o?: { readonly contentType?: string | undefined }
      ) =>
        Effect.flatMap(
          safeName(prefix, path),
          (name) => Effect.map(upload(name, stream, o?.contentType), (w): WrittenContent => ({ path, ...w }))
        ),
      isComplete: (path, expected) => Effect.flatMap(safeName(prefix, path), (n) => isCompleteName(n, expected)),
      stat: (path) => Effect.flatMap(safeName(prefix, path), stat)
    }

    /** Copy a local file (from the filesystem sink) unless the blob already has its hash. */
    const copyFile = (root: string, file: SetFile) =>
      Effect.gen(function*() {
        const name = yield* safeName(prefix, file.path)
        if (yield* isCompleteName(name, file)) return
        const abs = nodePath.join(root, ...file.path.split("/"))
        const w = yield* uploadFile(name, abs, file.contentType ?? undefined)
        if (w.sha256 !== file.sha256 || w.bytes !== file.bytes) {
          return yield* new SinkError({
            sink: SINK,
            operation: "copy",
            message: `azure-blob: ${file.path} changed while copying (sha256 ${w.sha256} != ${file.sha256})`
          })
        }
      })

    const metaName = (path: string, suffix: string) => path.replace(/\.[^./]+$/, "") + suffix

    const listSets = (dir: string) =>
      Effect.tryPromise({
        try: async () => {
          const out: Array<{ name: string; body: any }> = []
          for await (const b of container.listBlobsFlat({ prefix: `${prefix}${dir}/set-` })) {
            if (!/^set-[0-9a-f]+\.json$/.test(b.name.slice(`${prefix}${dir}/`.length))) continue
            const buf = await container.getBlockBlobClient(b.name).downloadToBuffer()
            out.push({ name: b.name, body: JSON.parse(buf.toString("utf8")) })
          }
          return out
        },
        catch: az("listSets")
      })

    const deleteBlob = (name: string) =>
      Effect.tryPromise({ try: () => container.getBlockBlobClient(name).deleteIfExists(), catch: az("delete") })

    const writeSet = (w: ArtifactSetWrite) =>
      Effect.gen(function*() {
        const { set } = w
        const dir = meetingDir(set.organizerId, set.meetingId)
        const setId = artifactSetId(set)
        const rid = set.recording?.id ?? null
        const tid = set.transcript?.id ?? null
        const loadId = disposition === "merge" ? "" : (w.runId ?? randomUUID())

        if (w.root !== undefined) {
          if (w.recording) yield* copyFile(w.root, w.recording)
          if (w.transcript) yield* copyFile(w.root, w.transcript)
        }
        if (set.recording) {
          const base = w.recording?.path ?? `${dir}/recording-${segment(set.recording.id)}`
          yield* putIfChanged(
            yield* safeName(prefix, metaName(base, ".json")),
            jsonBytes({
              meetingId: set.meetingId,
              ...sourceOf(set),
              organizerId: set.organizerId,
              recording: set.recording,
              file: w.recording
            }),
            "application/json"
          )
        }
        if (set.transcript) {
          const base = w.transcript?.path ?? `${dir}/transcript-${segment(set.transcript.id)}`
          yield* putIfChanged(
            yield* safeName(prefix, metaName(base, ".json")),
            jsonBytes({
              meetingId: set.meetingId,
              ...sourceOf(set),
              organizerId: set.organizerId,
              transcript: set.transcript,
              file: w.transcript,
              cues: w.cues.length,
              metadataContent: w.transcriptMetadata ?? null
            }),
            "application/json"
          )
          yield* putIfChanged(
            yield* safeName(prefix, metaName(base, ".cues.json")),
            jsonBytes(w.cues),
            "application/json"
          )
        }
        const setBody = (
          s: { recordingId: string | null; transcriptId: string | null; match: string; cc: string | null; date: string }
        ) => ({
          setId: setIdOf(s.recordingId, s.transcriptId, set.meetingId),
          meetingId: set.meetingId,
          ...sourceOf(set),
          organizerId: set.organizerId,
          contentCorrelationId: s.cc,
          match: s.match,
          recordingId: s.recordingId,
          transcriptId: s.transcriptId,
          meetingDate: s.date,
          recording: s.recordingId === rid ? w.recording : null,
          transcript: s.transcriptId === tid ? w.transcript : null
        })
        const body = setBody({
          recordingId: rid,
          transcriptId: tid,
          match: set.match,
          cc: set.contentCorrelationId,
          date: meetingDate(set)
        })
        const name = disposition === "merge"
          ? `${dir}/set-${setId}.json`
          : `${dir}/set-${setId}.${segment(loadId)}.json`
        // Merge: the sets this one re-pairs are read first, the new set blob is written next, and only then
        // are the old ones split or deleted, so a kill in between leaves an artifact listed twice (the next
        // run's rewrite of this set removes the stale blob), never missing.
        const olds = disposition === "merge" ? yield* listSets(dir) : []
        yield* putIfChanged(yield* safeName(prefix, name), jsonBytes(body), "application/json")
        if (disposition === "merge") {
          for (const old of olds) {
            const o = old.body
            const hit = (rid !== null && o.recordingId === rid) || (tid !== null && o.transcriptId === tid)
            if (!hit) continue
            for (const [r, t] of [[o.recordingId, null], [null, o.transcriptId]] as const) {
              if ((r !== null && r !== rid) || (t !== null && t !== tid)) {
                const single = {
                  ...o,
                  ...setBody({
                    recordingId: r,
                    transcriptId: t,
                    match: "none",
                    cc: o.contentCorrelationId,
                    date: o.meetingDate
                  })
                }
                single.recording = r !== null ? o.recording : null
                single.transcript = t !== null ? o.transcript : null
                yield* putIfChanged(
                  yield* safeName(prefix, `${dir}/set-${single.setId}.json`),
                  jsonBytes(single),
                  "application/json"
                )
              }
            }
            // The new set blob replaced a same-named one; another one goes once its leftovers stand alone.
            if (o.setId !== setId) yield* deleteBlob(old.name)
          }
        }
      })

    const writeRun = (run: RunRecord) =>
      Effect.flatMap(
        safeName(prefix, `runs/${segment(run.runId)}.json`),
        (name) => putIfChanged(name, jsonBytes(run), "application/json")
      ).pipe(Effect.asVoid)

    return {
      name: content.name,
      disposition,
      writeSet,
      writeRun,
      content,
      containerClient: container,
      prefix
    }
  })
