/**
 * A body read off a `RawConnection` (see rawSend.ts) straight into `Content.drain`'s consumer, as
 * drainBody.ts does for Node messages: each read's body bytes handed over as a view of the connection's
 * reused memory, the connection held back while a Promise the consumer returned is pending (that time
 * does not count as idle), how the read ended reported as a value. Also a small body read whole.
 */
import { type ChunkConsumer, type Drained, Handover, type ReceiveInto } from "./drainBody.js"
import type { BodyReceiver } from "./rawConnection.js"
import type { RawLease } from "./rawSend.js"
import type { WholeBody } from "./wholeBody.js"

class RawDrain extends Handover implements BodyReceiver {
  constructor(
    private readonly connection: RawLease,
    idleMs: number,
    describe: (cause: unknown) => string,
    consume: ChunkConsumer,
    resolve: (d: Drained) => void,
    readonly into?: ReceiveInto
  ) {
    super(idleMs, describe, consume, resolve)
    connection.receive(this)
    this.watchIdle()
  }

  /** Stops without an answer (the caller was interrupted): the connection is closed. */
  cancel(): void {
    if (this.done) return
    this.done = true
    this.stopTimer()
    this.connection.destroy()
  }

  // (the connection holds the rest of the read while `onBody` says false: nothing to pause here)
  protected hold(): void {}

  protected proceed(): void {
    this.waitingSince = Date.now()
    this.connection.resume()
  }

  protected release(d: Drained): void {
    if (d.cut !== null || d.stopped !== null) this.connection.destroy()
  }

  // a last chunk the consumer held back at the end is let go of: the connection can serve the next request
  protected override settled(): void {
    this.connection.resume()
  }

  readonly onBody = (chunk: Uint8Array): boolean => {
    if (this.done) return true
    this.waitingSince = Date.now()
    return this.deliver(chunk)
  }

  readonly onEnd = (): void => this.finish({ cut: null, stalled: false, stopped: null })

  readonly onCut = (cause: unknown): void => this.finish({ cut: this.describe(cause), stalled: false, stopped: null })
}

/**
 * Feeds the body of `connection`'s current answer to `consume` until it ends, is cut (a gap of `idleMs`
 * without data cuts it) or `consume` stops it; then calls `done` once. The function returned stops it
 * without calling `done`. With `into`, reads go to the memory it offers (see `DrainOptions.into`).
 */
export const drainRaw = (
  connection: RawLease,
  idleMs: number,
  describe: (cause: unknown) => string,
  consume: ChunkConsumer,
  done: (d: Drained) => void,
  into?: ReceiveInto
): () => void => {
  const drain = new RawDrain(connection, idleMs, describe, consume, done, into)
  return () => drain.cancel()
}

/**
 * Reads the body of `connection`'s current answer whole, expecting `length` bytes (see wholeBody.ts);
 * `resolve` is called before this returns when the body had already arrived with the answer's head.
 */
export const readRawWhole = (
  connection: RawLease,
  length: number,
  idleMs: number,
  describe: (cause: unknown) => string,
  resolve: (w: WholeBody) => void
): void => {
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
}
