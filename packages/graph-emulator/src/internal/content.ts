/**
 * Artifact content as a byte source: a file on disk, inline text, or a deterministic generator
 * (`{ bytes, seed }`) whose bytes are computed per 64 KiB block, so any size costs constant memory
 * and any range can be produced without generating what precedes it.
 */
import * as NodeFs from "node:fs"

export const BLOCK = 64 * 1024

export type ContentSource =
  | { readonly _tag: "File"; readonly path: string; readonly size: number }
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
  | { readonly _tag: "Generated"; readonly size: number; readonly seed: number }

export const sizeOf = (source: ContentSource): number => source._tag === "Bytes" ? source.bytes.length : source.size

// The first bytes of a generated recording look like an MP4 `ftyp` box, so sniffers see video.
const FTYP = Uint8Array.from([
  0x00,
  0x00,
  0x00,
  0x18,
  0x66,
  0x74,
  0x79,
  0x70,
  0x69,
  0x73,
  0x6f,
  0x6d,
  0x00,
  0x00,
  0x02,
  0x00,
  0x69,
  0x73,
  0x6f,
  0x6d,
  0x6d,
  0x70,
  0x34,
  0x31
])

/** Block `index` of a generated content stream (full BLOCK bytes; the caller trims the last one). */
export const generatedBlock = (seed: number, index: number): Uint8Array => {
  const out = new Uint8Array(BLOCK)
  fillGeneratedBlock(seed, index, out)
  return out
}

/** Writes block `index` into `target` (BLOCK bytes, 4-byte aligned), allocating nothing. */
export const fillGeneratedBlock = (seed: number, index: number, target: Uint8Array): void => {
  const words = new Uint32Array(target.buffer, target.byteOffset, BLOCK / 4)
  // xorshift32 seeded from (seed, index): every block is independent of the others
  let x = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0
  if (x === 0) x = 0x6d2b79f5
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    words[i] = x
  }
  if (index === 0) target.set(FTYP, 0)
}

/** The whole generated content in memory: for tests comparing downloads, never used by the server. */
export const generatedBytes = (seed: number, size: number): Uint8Array => {
  const out = new Uint8Array(size)
  for (let offset = 0, index = 0; offset < size; offset += BLOCK, index++) {
    const block = generatedBlock(seed, index)
    out.set(block.subarray(0, Math.min(BLOCK, size - offset)), offset)
  }
  return out
}

export interface WriteOptions {
  readonly start: number
  readonly end: number
  /** called with each chunk's size as it is handed to the socket */
  readonly onBytes: (n: number) => void
  /** called once as the last byte is handed to the socket */
  readonly onComplete: () => void
  /** destroy the connection after this many bytes (mid-body reset fault) */
  readonly resetAfter?: number
  /** pace generated and file content to about this rate (in-memory `Bytes` content is small and sent at once) */
  readonly bytesPerSecond?: number
}

/** How finely a paced body is cut: a slice per this many milliseconds of the rate. */
const PACE_SLICE_MS = 20
/** Slices never smaller than this (a slow rate sends fewer, not tinier, writes)... */
const MIN_SLICE = 1024

/**
 * A token bucket for one response stream: `rate` bytes per second, holding at most two slices (one to
 * send, one to absorb a late timer), so a stream that fell behind (its client stopped reading) never
 * catches up in a burst: its link stays a link of that rate.
 */
export class Pacer {
  readonly slice: number
  private tokens: number
  private last: number
  constructor(readonly rate: number, private readonly now: () => number = Date.now) {
    this.slice = Math.max(MIN_SLICE, Math.min(BLOCK, Math.floor((rate * PACE_SLICE_MS) / 1000)))
    this.tokens = this.slice
    this.last = now()
  }
  /** Milliseconds until `n` bytes (at most one slice) may be sent; takes them when that is now (0). */
  take(n: number): number {
    const now = this.now()
    this.tokens = Math.min(2 * this.slice, this.tokens + ((now - this.last) * this.rate) / 1000)
    this.last = now
    if (this.tokens >= n) {
      this.tokens -= n
      return 0
    }
    return Math.ceil(((n - this.tokens) * 1000) / this.rate)
  }
}

/**
 * Writes `chunk` through `pacer` one slice at a time, each after the previous one was handed over;
 * `sent(n)` as each slice is handed to the socket.
 */
const writePaced = (
  res: import("node:http").ServerResponse,
  chunk: Uint8Array,
  pacer: Pacer,
  stopped: () => boolean,
  sent: (n: number) => void,
  done: (err: Error | null | undefined) => void
): void => {
  let at = 0
  const next = (): void => {
    if (stopped()) return
    if (at >= chunk.length) return done(null)
    const n = Math.min(pacer.slice, chunk.length - at)
    const wait = pacer.take(n)
    if (wait > 0) {
      setTimeout(next, wait)
      return
    }
    const slice = chunk.subarray(at, at + n)
    at += n
    sent(n)
    res.write(slice, (err) => (err ? done(err) : next()))
  }
  next()
}

/**
 * Writes bytes `[start, end]` of the source to a node response whose head is already written, with two
 * recycled 64 KiB buffers: a buffer is refilled only after the socket reports it flushed, so serving any
 * size allocates nothing per block (no garbage for the GC to lag behind) and needs no backpressure
 * bookkeeping beyond the two buffers in flight. A paced body uses one buffer, sent in slices through its
 * own token bucket (see `Pacer`).
 */
export const writeRange = (
  res: import("node:http").ServerResponse,
  source: ContentSource,
  options: WriteOptions
): Promise<"complete" | "aborted"> =>
  new Promise((resolve) => {
    const { end, start } = options
    if (source._tag === "Bytes") {
      const view = source.bytes.subarray(start, end + 1)
      if (options.resetAfter !== undefined) {
        const part = view.subarray(0, options.resetAfter)
        options.onBytes(part.length)
        res.write(part, () => {
          res.socket?.destroy()
          resolve("aborted")
        })
        return
      }
      options.onBytes(view.length)
      options.onComplete()
      res.end(view, () => resolve("complete"))
      res.once("close", () => resolve(res.writableFinished ? "complete" : "aborted"))
      return
    }
    const fd = source._tag === "File" ? NodeFs.openSync(source.path, "r") : -1
    const pacer = options.bytesPerSecond === undefined ? undefined : new Pacer(options.bytesPerSecond)
    const buffers = pacer === undefined ? 2 : 1
    const free = Array.from({ length: buffers }, () => Buffer.allocUnsafeSlow(BLOCK))
    let pos = start
    let filling = false
    let ending = false
    let settled = false
    const settle = (how: "complete" | "aborted") => {
      if (settled) return
      settled = true
      if (fd >= 0) NodeFs.close(fd, () => {})
      resolve(how)
    }
    res.once("close", () => settle(res.writableFinished ? "complete" : "aborted"))
    let handed = start
    // counted as bytes are handed to the socket, complete with the last one: a client that has read it
    // all sees it counted
    const sent = (n: number) => {
      handed += n
      options.onBytes(n)
      if (handed > end) options.onComplete()
    }
    const send = (chunk: Uint8Array, done: (err: Error | null | undefined) => void) => {
      if (pacer !== undefined) return writePaced(res, chunk, pacer, () => settled, sent, done)
      sent(chunk.length)
      res.write(chunk, done)
    }
    // fills `buf` with the bytes at `at` (up to the block boundary for generated content)
    const fill = (buf: Buffer, at: number, done: (err: Error | null, n: number) => void) => {
      if (source._tag === "Generated") {
        const index = Math.floor(at / BLOCK)
        fillGeneratedBlock(source.seed, index, buf)
        const from = at - index * BLOCK
        const n = Math.min(BLOCK - from, end + 1 - at)
        if (from > 0) buf.copyWithin(0, from, from + n)
        done(null, n)
      } else {
        NodeFs.read(fd, buf, 0, Math.min(BLOCK, end + 1 - at), at, (err, n) => done(err, n))
      }
    }
    const step = (): void => {
      while (!settled && !filling && free.length > 0) {
        if (pos > end) {
          if (free.length === buffers && !ending) {
            // everything flushed
            ending = true
            res.end(() => settle("complete"))
          }
          return
        }
        const buf = free.pop()!
        filling = true
        fill(buf, pos, (err, n) => {
          filling = false
          if (settled) return
          if (err || n === 0) {
            res.destroy(err ?? new Error("content source ended early"))
            return settle("aborted")
          }
          let chunk = buf.subarray(0, n)
          if (options.resetAfter !== undefined && pos - start + n >= options.resetAfter) {
            chunk = chunk.subarray(0, Math.max(0, options.resetAfter - (pos - start)))
            // stop the write loop: without this it refilled the other buffer at the same position and
            // sent the cut chunk twice (a body of the right length with wrong bytes)
            free.length = 0
            options.onBytes(chunk.length)
            res.write(chunk, () => {
              res.socket?.destroy()
              settle("aborted")
            })
            return
          }
          pos += n
          send(chunk, (werr) => {
            free.push(buf)
            if (werr) return settle("aborted")
            step()
          })
          step()
        })
      }
    }
    if (start > end) options.onComplete()
    step()
  })
