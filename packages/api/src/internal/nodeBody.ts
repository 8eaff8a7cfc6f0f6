/**
 * A Node response body read by direct pulls. `res.stream` (the platform's `NodeStream.fromReadable`)
 * runs each read through a Channel (a latch, a write, a flatMap per socket read of ~64 KiB): at disk
 * speed that made downloads CPU-bound. Here the message flows ('data' events) into a queue that a pull
 * empties at once: one Effect per pull, however many socket reads arrived since the last one. A waiting
 * pull is resumed once the event loop has run the reads that were ready together (setImmediate: libuv
 * reads a busy socket several times per poll), so a fast network costs a pull per few reads, not per
 * read; there is no timer to fill a batch (a chunk held longer survives a scavenge and is then only
 * freed by a mark-compact). Backpressure: at `QUEUE_BYTES` queued the message is paused, so what the
 * consumer has not taken stays in the message (up to its highWaterMark) and in the kernel.
 */
import type { Answer } from "./nodeSend.js"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { Readable } from "node:stream"
import { type Pull, QueuedBody } from "./queuedBody.js"

/** One pull: what the message had buffered, a failure (Some: the body broke off), or the end (None). */
export type BodyPull = Pull<Error>

/** Bytes read ahead of the consumer before the message is paused (a few socket reads). */
export const QUEUE_BYTES = 256 * 1024

/** The Node message behind a response of `@effect/platform-node`'s client, if it is one. */
export const nodeSource = (res: Answer): Readable | undefined => {
  const source = (res as { readonly source?: unknown }).source
  return source instanceof Readable ? source : undefined
}

/** The listeners a body reader puts on a Node message. */
/** Why a body whose connection closed before its end stopped (Node does not always emit an error for it). */
export const CLOSED_EARLY = "the connection closed before the body ended"

export interface BodyListeners {
  readonly onData: (chunk: Buffer) => void
  readonly onEnd: () => void
  readonly onError: (e: Error) => void
  readonly onClose: () => void
}

/** Puts a reader's listeners on `source`. */
export const listen = (source: Readable, l: BodyListeners): void => {
  source.on("data", l.onData)
  source.on("end", l.onEnd)
  source.on("error", l.onError)
  source.on("close", l.onClose)
}

/** Takes them off again; an error emitted after this (e.g. by a destroy) must not go unhandled. */
export const unlisten = (source: Readable, l: BodyListeners): void => {
  source.off("data", l.onData)
  source.off("end", l.onEnd)
  source.off("error", l.onError)
  source.off("close", l.onClose)
  source.on("error", () => {})
}

class PulledBody extends QueuedBody<Error> implements BodyListeners {
  constructor(private readonly source: Readable, private readonly limit: number) {
    super()
    if (source.errored !== null && source.errored !== undefined) this.failure = source.errored
    else if (source.readableEnded) this.ended = true
    else if (source.destroyed) this.failure = new Error(CLOSED_EARLY)
    else {
      listen(source, this)
    }
  }

  private flushing: ReturnType<typeof setImmediate> | undefined

  readonly onData = (b: Uint8Array) => {
    this.enqueue(b)
    if (this.queued >= this.limit) {
      this.source.pause()
      this.wake()
    } else if (this.waiting && this.flushing === undefined) this.flushing = setImmediate(this.flush)
  }
  private readonly flush = () => {
    this.flushing = undefined
    this.wake()
  }
  readonly onEnd = () => {
    this.ended = true
    this.wake()
  }
  readonly onError = (e: Error) => {
    this.failure ??= e
    this.wake()
  }
  // (a message whose connection closed before its end emits an error first; this covers one that does not)
  readonly onClose = () => {
    if (!this.ended) this.failure ??= new Error(CLOSED_EARLY)
    this.wake()
  }

  protected taken(): void {
    if (this.source.isPaused() && !this.ended && this.failure === undefined) this.source.resume()
  }

  /** Stops listening; a body not read to its end is destroyed (its connection is not reused half-read). */
  close() {
    this.clear()
    if (this.flushing !== undefined) clearImmediate(this.flushing)
    const s = this.source
    unlisten(s, this)
    if (!this.ended && !s.destroyed) s.destroy()
  }
}

/** Pulls of `source`, for as long as the scope is open. */
export const pullBody = (source: Readable, limit = QUEUE_BYTES): Effect.Effect<BodyPull, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(Effect.sync(() => new PulledBody(source, limit)), (b) => Effect.sync(() => b.close())),
    (b) => b.pull
  )
