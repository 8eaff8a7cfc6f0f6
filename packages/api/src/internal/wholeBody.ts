/**
 * A small body of known length read whole, straight off Node's message: one callback per body instead of
 * the pull loop, watchdog fiber and Stream stages a streamed body is built from (for bodies of a few
 * hundred bytes those cost more CPU than the request itself). Never fails: how the read ended is in
 * the result, so the caller can resume a cut body as a streamed one would be.
 */
import type { Readable } from "node:stream"
import { type BodyListeners, CLOSED_EARLY, listen, unlisten } from "./nodeBody.js"

export interface WholeBody {
  /** The bytes that arrived, in order (all of them when `cut` is null and `tooLong` false). */
  readonly bytes: Buffer
  /** Why the body stopped before `length` bytes (a transport error, a close, the idle timeout), or null. */
  readonly cut: string | null
  /** The idle timeout cut it (the caller aborts the request). */
  readonly stalled: boolean
  /** More bytes than `length` arrived. */
  readonly tooLong: boolean
}

/**
 * Reads `source` to its end, expecting exactly `length` bytes; a gap of `idleMs` without data cuts it.
 * `describe` words a transport error (the same wording a streamed body's cut gets).
 */
export const readWholeBody = (
  source: Readable,
  length: number,
  idleMs: number,
  describe: (cause: unknown) => string,
  resolve: (w: WholeBody) => void
): void => {
  const parts: Array<Buffer> = []
  let size = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const finish = (cut: string | null, extra: { stalled?: boolean; tooLong?: boolean } = {}) => {
    if (timer !== undefined) clearTimeout(timer)
    unlisten(source, listeners)
    resolve({
      bytes: parts.length === 1 ? parts[0]! : Buffer.concat(parts, size),
      cut,
      stalled: extra.stalled === true,
      tooLong: extra.tooLong === true
    })
  }
  const arm = () => {
    if (timer !== undefined) clearTimeout(timer)
    timer = setTimeout(() => finish(`no data for ${idleMs} ms`, { stalled: true }), Math.max(10, idleMs))
  }
  const onData = (chunk: Buffer) => {
    parts.push(chunk)
    size += chunk.length
    if (size > length) {
      source.destroy()
      finish(null, { tooLong: true })
      return
    }
    arm()
  }
  const listeners: BodyListeners = {
    onData,
    onEnd: () => finish(size === length ? null : `the body ended after ${size} of ${length} bytes`),
    onError: (e) => finish(describe(e)),
    // (a message whose connection closed before its end emits an error first; this covers one that does not)
    onClose: () => finish(CLOSED_EARLY)
  }
  if (source.errored !== null && source.errored !== undefined) return finish(describe(source.errored))
  if (source.destroyed) return finish(CLOSED_EARLY)
  listen(source, listeners)
  arm()
}
