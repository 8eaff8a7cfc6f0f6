/**
 * A body read off a `RawConnection` (see rawSend.ts) straight into `Content.drain`'s consumer, as
 * drainBody.ts does for Node messages: each read's body bytes handed over as a view of the connection's
 * reused memory, the connection held back while a Promise the consumer returned is pending (that time
 * does not count as idle), how the read ended reported as a value. Also a small body read whole.
 */
import type { ChunkConsumer, Drained, ReceiveInto } from "./drainBody.js"
import type { BodyReceiver, RawConnection } from "./rawConnection.js"
import type { WholeBody } from "./wholeBody.js"

const watchEvery = (idleMs: number) => Math.max(10, Math.min(1000, Math.floor(idleMs / 4)))

class RawDrain implements BodyReceiver {
  private busy = false
  private done = false
  private result: Drained | undefined
  /** When the wait for data began (0 while the consumer holds the body back). */
  private waitingSince = Date.now()
  private readonly timer: ReturnType<typeof setInterval>

  constructor(
    private readonly connection: RawConnection,
    private readonly idleMs: number,
    private readonly describe: (cause: unknown) => string,
    private readonly consume: ChunkConsumer,
    private readonly resolve: (d: Drained) => void,
    readonly into?: ReceiveInto
  ) {
    this.timer = setInterval(this.watch, watchEvery(idleMs))
    connection.receive(this)
  }

  /** Stops without an answer (the caller was interrupted): the connection is closed. */
  cancel(): void {
    if (this.done) return
    this.done = true
    clearInterval(this.timer)
    this.connection.destroy()
  }

  readonly onBody = (chunk: Uint8Array): boolean => {
    if (this.done) return true
    this.waitingSince = Date.now()
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
    r.then(this.onConsumed, this.onRejected)
    return false
  }

  readonly onEnd = (): void => this.finish({ cut: null, stalled: false, stopped: null })

  readonly onCut = (cause: unknown): void => this.finish({ cut: this.describe(cause), stalled: false, stopped: null })

  private readonly onConsumed = () => {
    this.busy = false
    if (this.done) {
      if (this.result !== undefined) this.resolve(this.result)
      return
    }
    this.waitingSince = Date.now()
    this.connection.resume()
  }

  private readonly onRejected = (cause: unknown) => {
    this.busy = false
    if (this.done) {
      if (this.result !== undefined) this.resolve({ ...this.result, stopped: { cause } })
    } else this.finish({ cut: null, stalled: false, stopped: { cause } })
  }

  private readonly watch = () => {
    if (this.waitingSince !== 0 && Date.now() - this.waitingSince > this.idleMs) {
      this.finish({ cut: `no data for ${this.idleMs} ms`, stalled: true, stopped: null })
    }
  }

  private finish(d: Drained): void {
    if (this.done) return
    this.done = true
    clearInterval(this.timer)
    if (d.cut !== null || d.stopped !== null) this.connection.destroy()
    this.result = d
    // the consumer is never called again before the chunk it holds back is done
    if (!this.busy) this.resolve(d)
  }
}

/**
 * Feeds the body of `connection`'s current answer to `consume` until it ends, is cut (a gap of `idleMs`
 * without data cuts it) or `consume` stops it; then calls `done` once. The function returned stops it
 * without calling `done`. With `into`, reads go to the memory it offers (see `DrainOptions.into`).
 */
export const drainRaw = (
  connection: RawConnection,
  idleMs: number,
  describe: (cause: unknown) => string,
  consume: ChunkConsumer,
  done: (d: Drained) => void,
  into?: ReceiveInto
): () => void => {
  const drain = new RawDrain(connection, idleMs, describe, consume, done, into)
  return () => drain.cancel()
}

/** Reads the body of `connection`'s current answer whole, expecting `length` bytes (see wholeBody.ts). */
export const readRawWhole = (
  connection: RawConnection,
  length: number,
  idleMs: number,
  describe: (cause: unknown) => string
): Promise<WholeBody> =>
  new Promise((resolve) => {
    const bytes = Buffer.allocUnsafe(length)
    let size = 0
    let tooLong = false
    const drain = new RawDrain(connection, idleMs, describe, (chunk) => {
      if (size + chunk.length > length) {
        tooLong = true
        throw new Error("too long")
      }
      bytes.set(chunk, size)
      size += chunk.length
    }, (d) =>
      resolve({
        bytes: bytes.subarray(0, size),
        cut: tooLong ? null : d.cut ?? (size < length ? "the body ended before its Content-Length" : null),
        stalled: d.stalled,
        tooLong
      }))
    void drain
  })
