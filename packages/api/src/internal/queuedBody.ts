/**
 * A body's bytes queued for one puller (a Stream's pull), shared by the two ways a body arrives: Node's
 * messages (nodeBody.ts) and the client's own connections (rawSend.ts). A pull takes everything queued
 * at once; a pull that finds nothing waits until `wake` has something. How the source is held back and
 * let go again is the subclass's (`taken`).
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** One pull: what was queued, a failure (Some: the body broke off), or the end (None). */
export type Pull<E> = Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<E>>

export abstract class QueuedBody<E> {
  protected ended = false
  protected failure: E | undefined
  /** Bytes queued and not yet pulled. */
  protected queued = 0
  private queue: Array<Uint8Array> = []
  private waiter: ((pull: Pull<E>) => void) | undefined

  /** Queued bytes were handed over: the source may go on. */
  protected abstract taken(): void

  protected enqueue(chunk: Uint8Array): void {
    this.queue.push(chunk)
    this.queued += chunk.length
  }

  /** Whether a pull waits. */
  protected get waiting(): boolean {
    return this.waiter !== undefined
  }

  /** Drops what is queued and any waiting pull (the body is given up). */
  protected clear(): void {
    this.waiter = undefined
    this.queue = []
    this.queued = 0
  }

  /** What there is to hand over now, or undefined (wait). Queued bytes come before a failure or the end. */
  private take(): Pull<E> | undefined {
    if (this.queued > 0) {
      const out = this.queue
      this.queue = []
      this.queued = 0
      this.taken()
      return Effect.succeed(Chunk.unsafeFromArray(out))
    }
    if (this.failure !== undefined) return Effect.fail(Option.some(this.failure))
    if (this.ended) return Effect.fail(Option.none())
    return undefined
  }

  /** Resumes a waiting pull when there is something for it. */
  protected readonly wake = (): void => {
    const resume = this.waiter
    if (resume === undefined) return
    const next = this.take()
    if (next === undefined) return
    this.waiter = undefined
    resume(next)
  }

  readonly pull: Pull<E> = Effect.suspend(() =>
    this.take() ?? Effect.async<Chunk.Chunk<Uint8Array>, Option.Option<E>>((resume) => {
      this.waiter = resume
      return Effect.sync(() => {
        this.waiter = undefined
      })
    })
  )
}
