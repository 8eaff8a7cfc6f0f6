/**
 * A Node response body read in batches. `res.stream` (the platform's `NodeStream.fromReadable`) runs
 * a few Effect steps per socket read (~64 KiB): at disk speed that made the download CPU-bound. Here
 * 'data' events collect the buffers while the consumer is busy (hashing, writing) and each pull takes
 * all of them as one Chunk, so the Effect cost is paid per batch, not per read; the body is paused at
 * `BATCH_BYTES` buffered, so memory stays bounded (backpressure reaches the socket as before).
 */
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { Readable } from "node:stream"

/** Bytes buffered before the body is paused until the consumer pulls them. */
export const BATCH_BYTES = 256 * 1024

/** One pull: the buffers that arrived since the last, a failure (Some: the body broke off), or the end (None). */
export type BodyPull = Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<Error>>

/** The Node message behind a response of `@effect/platform-node`'s client, if it is one. */
export const nodeSource = (res: HttpClientResponse.HttpClientResponse): Readable | undefined => {
  const source = (res as { readonly source?: unknown }).source
  return source instanceof Readable ? source : undefined
}

class BatchedBody {
  private pending: Array<Uint8Array> = []
  private pendingBytes = 0
  private ended = false
  private failure: Error | undefined
  private waiter: ((pull: BodyPull) => void) | undefined

  constructor(private readonly source: Readable) {
    if (source.errored !== null && source.errored !== undefined) this.failure = source.errored
    else if (source.readableEnded) this.ended = true
    else if (source.destroyed) this.failure = new Error("the connection closed before the body ended")
    else {
      source.on("data", this.onData)
      source.on("end", this.onEnd)
      source.on("error", this.onError)
      source.on("close", this.onClose)
    }
  }

  private readonly onData = (chunk: Uint8Array) => {
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
    if (this.pendingBytes >= BATCH_BYTES) this.source.pause()
    this.wake()
  }
  private readonly onEnd = () => {
    this.ended = true
    this.wake()
  }
  private readonly onError = (e: Error) => {
    this.failure ??= e
    this.wake()
  }
  // (a message whose connection closed before its end emits an error first; this covers one that does not)
  private readonly onClose = () => {
    if (!this.ended) this.failure ??= new Error("the connection closed before the body ended")
    this.wake()
  }

  /** What is there to hand over now, or undefined (wait). Buffers come before a failure or the end. */
  private take(): BodyPull | undefined {
    if (this.pending.length > 0) {
      const out = this.pending
      this.pending = []
      this.pendingBytes = 0
      if (this.source.isPaused() && !this.ended && this.failure === undefined) this.source.resume()
      return Effect.succeed(Chunk.unsafeFromArray(out))
    }
    if (this.failure !== undefined) return Effect.fail(Option.some(this.failure))
    if (this.ended) return Effect.fail(Option.none())
    return undefined
  }

  private wake() {
    const resume = this.waiter
    if (resume === undefined) return
    const next = this.take()
    if (next === undefined) return
    this.waiter = undefined
    resume(next)
  }

  readonly pull: BodyPull = Effect.suspend(() =>
    this.take() ?? Effect.async<Chunk.Chunk<Uint8Array>, Option.Option<Error>>((resume) => {
      this.waiter = resume
      return Effect.sync(() => {
        this.waiter = undefined
      })
    })
  )

  /** Stops listening; a body not read to its end is destroyed (its connection is not reused half-read). */
  close() {
    this.waiter = undefined
    this.pending = []
    const s = this.source
    s.off("data", this.onData)
    s.off("end", this.onEnd)
    s.off("error", this.onError)
    s.off("close", this.onClose)
    // an error emitted after this (e.g. by the destroy below) must not go unhandled
    s.on("error", () => {})
    if (!this.ended && !s.destroyed) s.destroy()
  }
}

/** Pulls of `source` in batches, for as long as the scope is open. */
export const pullBatched = (source: Readable): Effect.Effect<BodyPull, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(Effect.sync(() => new BatchedBody(source)), (b) => Effect.sync(() => b.close())),
    (b) => b.pull
  )
