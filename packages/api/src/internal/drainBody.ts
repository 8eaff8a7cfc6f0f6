/**
 * A Node response body handed to a synchronous consumer, the socket reads of one event-loop turn
 * together right after it (setImmediate; handing each read over inside its own 'data' event cost more
 * CPU under load, see bench/api-download.ts): no Effect, no Stream element per read, and each read's
 * Buffer is dead as soon as the consumer returns, so it never survives a scavenge. A consumer that
 * returns a Promise pauses the message until it settles (backpressure; that time does not count as
 * idle). How the read ended is reported as a value, so the caller can resume a cut body as a streamed
 * one would be.
 */
import type { Readable } from "node:stream"
import { type BodyListeners, CLOSED_EARLY, listen, unlisten } from "./nodeBody.js"

/** Takes one chunk; a returned Promise holds the next chunk back until it settles; a throw stops the body. */
export type ChunkConsumer = (chunk: Uint8Array) => void | Promise<void>

/** Where the consumer would like the next bytes received (see `DrainOptions.into`). */
export type ReceiveInto = () => Uint8Array | undefined

export interface Drained {
  /** Why the body stopped before its end (a transport error, a close, the idle timeout), or null. */
  readonly cut: string | null
  /** The idle timeout cut it (the caller aborts the request). */
  readonly stalled: boolean
  /** The consumer threw or its Promise rejected: what with (the body was destroyed). */
  readonly stopped: { readonly cause: unknown } | null
}

/**
 * What every drain shares: a chunk handed to the consumer, the body held back while a Promise it
 * returned is pending (that time is not idle), the idle watch, and one answer, given only once the
 * consumer is done with the chunk it holds. Subclasses hold and resume their source.
 */
export abstract class Handover {
  protected busy = false
  protected done = false
  /** How it ended, once it has; handed over when the consumer's last Promise settles. */
  private result: Drained | undefined
  /** When the wait for data began (0 while the consumer holds the body back). */
  protected waitingSince = Date.now()
  private timer: ReturnType<typeof setInterval> | undefined

  constructor(
    protected readonly idleMs: number,
    protected readonly describe: (cause: unknown) => string,
    private readonly consume: ChunkConsumer,
    private readonly resolve: (d: Drained) => void
  ) {}

  /**
   * Starts the idle watch, once the source is attached (a body it handed over whole meanwhile, as a raw
   * connection does with bytes already received, needs none).
   */
  protected watchIdle(): void {
    if (this.done) return
    this.timer = setInterval(this.watch, Math.max(10, Math.min(1000, Math.floor(this.idleMs / 4))))
  }

  /** The consumer holds a chunk back: no more data until `proceed`. */
  protected abstract hold(): void
  /** The consumer took the chunk it held: data flows again (the wait for it counts from now). */
  protected abstract proceed(): void
  /** The body ended or stopped (`d`): let go of the source (destroyed when cut or stopped). */
  protected abstract release(d: Drained): void
  /** The consumer let go of the chunk it held when the body ended or stopped. */
  protected settled(): void {}

  /** Hands `chunk` over; false when the consumer holds the body back (or stopped it). */
  protected deliver(chunk: Uint8Array): boolean {
    let r: void | Promise<void>
    try {
      r = this.consume(chunk)
    } catch (cause) {
      this.finish({ cut: null, stalled: false, stopped: { cause } })
      return false
    }
    if (r === undefined) return true
    this.busy = true
    this.waitingSince = 0
    this.hold()
    r.then(this.onConsumed, this.onRejected)
    return false
  }

  protected stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
  }

  protected finish(d: Drained): void {
    if (this.done) return
    this.done = true
    this.stopTimer()
    this.release(d)
    this.result = d
    // the consumer is never called again before the chunk it holds back is done
    if (!this.busy) this.resolve(d)
  }

  private readonly watch = () => {
    if (this.waitingSince !== 0 && Date.now() - this.waitingSince > this.idleMs) {
      this.finish({ cut: `no data for ${this.idleMs} ms`, stalled: true, stopped: null })
    }
  }

  private readonly onRejected = (cause: unknown) => {
    this.busy = false
    if (this.done) {
      this.settled()
      if (this.result !== undefined) this.resolve({ ...this.result, stopped: { cause } })
    } else this.finish({ cut: null, stalled: false, stopped: { cause } })
  }

  private readonly onConsumed = () => {
    this.busy = false
    if (this.done) {
      this.settled()
      if (this.result !== undefined) this.resolve(this.result)
      return
    }
    this.proceed()
  }
}

class Drain extends Handover implements BodyListeners {
  private readonly backlog: Array<Buffer> = []
  private ended = false

  constructor(
    private readonly source: Readable,
    idleMs: number,
    describe: (cause: unknown) => string,
    consume: ChunkConsumer,
    resolve: (d: Drained) => void
  ) {
    super(idleMs, describe, consume, resolve)
    listen(source, this)
    this.watchIdle()
  }

  /** Stops listening without an answer (the caller was interrupted); a body not read to its end is destroyed. */
  cancel() {
    if (this.done) return
    this.done = true
    this.unlisten()
    if (!this.ended) this.source.destroy()
  }

  private unlisten() {
    this.stopTimer()
    if (this.turn !== undefined) clearImmediate(this.turn)
    unlisten(this.source, this)
  }

  protected hold(): void {
    this.source.pause()
  }

  protected proceed(): void {
    if (!this.flush()) return
    this.waitingSince = Date.now()
    this.source.resume()
  }

  protected release(d: Drained): void {
    this.unlisten()
    if (d.cut !== null || d.stopped !== null) this.source.destroy()
  }

  /** Hands the backlog over in order; true when the consumer took it all and the body goes on (not ended). */
  private flush(): boolean {
    while (this.backlog.length > 0) {
      if (!this.deliver(this.backlog.shift()!)) return false
    }
    if (!this.ended) return true
    this.finish({ cut: null, stalled: false, stopped: null })
    return false
  }

  /** The reads of one event-loop turn are handed over together, after it (as nodeBody.ts's pulls). */
  private turn: ReturnType<typeof setImmediate> | undefined

  readonly onData = (chunk: Buffer) => {
    if (this.busy) {
      this.backlog.push(chunk)
      return
    }
    this.waitingSince = Date.now()
    this.backlog.push(chunk)
    this.turn ??= setImmediate(this.onTurn)
  }

  private readonly onTurn = () => {
    this.turn = undefined
    if (this.busy || this.done) return
    this.flush()
  }

  readonly onEnd = () => {
    this.ended = true
    if (!this.busy && this.turn === undefined) this.finish({ cut: null, stalled: false, stopped: null })
  }

  readonly onError = (e: unknown) => this.finish({ cut: this.describe(e), stalled: false, stopped: null })

  // (a message whose connection closed before its end emits an error first; this covers one that does not)
  readonly onClose = () => {
    if (!this.ended) this.finish({ cut: CLOSED_EARLY, stalled: false, stopped: null })
  }
}

/**
 * Feeds `source` to `consume` until it ends, is cut (a gap of `idleMs` without data cuts it), or
 * `consume` stops it; then calls `done` once. The function returned stops it without calling `done`.
 */
export const drainBody = (
  source: Readable,
  idleMs: number,
  describe: (cause: unknown) => string,
  consume: ChunkConsumer,
  done: (d: Drained) => void
): () => void => {
  if (source.errored !== null && source.errored !== undefined) {
    done({ cut: describe(source.errored), stalled: false, stopped: null })
  } else if (source.readableEnded) done({ cut: null, stalled: false, stopped: null })
  else if (source.destroyed) done({ cut: CLOSED_EARLY, stalled: false, stopped: null })
  else {
    const drain = new Drain(source, idleMs, describe, consume, done)
    return () => drain.cancel()
  }
  return () => {}
}
