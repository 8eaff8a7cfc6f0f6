/**
 * A Node response body read by direct pulls. `res.stream` (the platform's `NodeStream.fromReadable`)
 * runs each read through a Channel (a latch, a write, a flatMap per socket read of ~64 KiB): at disk
 * speed that made downloads CPU-bound. Here a pull is one Effect that takes everything the message has
 * buffered (`read()` until null), or waits for 'readable', 'end' or 'error'. The message is read only
 * when pulled, so backpressure reaches the socket exactly as before: what the consumer has not asked
 * for stays in the message (up to its highWaterMark) and in the kernel.
 */
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { Readable } from "node:stream"

/** One pull: what the message had buffered, a failure (Some: the body broke off), or the end (None). */
export type BodyPull = Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<Error>>

/** The Node message behind a response of `@effect/platform-node`'s client, if it is one. */
export const nodeSource = (res: HttpClientResponse.HttpClientResponse): Readable | undefined => {
  const source = (res as { readonly source?: unknown }).source
  return source instanceof Readable ? source : undefined
}

class PulledBody {
  private ended = false
  private failure: Error | undefined
  private waiter: ((pull: BodyPull) => void) | undefined

  constructor(private readonly source: Readable) {
    if (source.errored !== null && source.errored !== undefined) this.failure = source.errored
    else if (source.readableEnded) this.ended = true
    else if (source.destroyed) this.failure = new Error("the connection closed before the body ended")
    else {
      source.on("readable", this.wake)
      source.on("end", this.onEnd)
      source.on("error", this.onError)
      source.on("close", this.onClose)
    }
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

  /** What there is to hand over now, or undefined (wait). Buffered bytes come before a failure or the end. */
  private take(): BodyPull | undefined {
    if (this.failure === undefined && !this.ended) {
      let out: Array<Uint8Array> | undefined
      for (let b = this.source.read() as Uint8Array | null; b !== null; b = this.source.read() as Uint8Array | null) {
        ;(out ??= []).push(b)
      }
      if (out !== undefined) return Effect.succeed(Chunk.unsafeFromArray(out))
    }
    if (this.failure !== undefined) return Effect.fail(Option.some(this.failure))
    if (this.ended) return Effect.fail(Option.none())
    return undefined
  }

  private readonly wake = () => {
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
    const s = this.source
    s.off("readable", this.wake)
    s.off("end", this.onEnd)
    s.off("error", this.onError)
    s.off("close", this.onClose)
    // an error emitted after this (e.g. by the destroy below) must not go unhandled
    s.on("error", () => {})
    if (!this.ended && !s.destroyed) s.destroy()
  }
}

/** Pulls of `source`, for as long as the scope is open. */
export const pullBody = (source: Readable): Effect.Effect<BodyPull, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(Effect.sync(() => new PulledBody(source)), (b) => Effect.sync(() => b.close())),
    (b) => b.pull
  )
