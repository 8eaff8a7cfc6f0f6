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

/**
 * Writes bytes `[start, end]` of the source to a node response whose head is already written, with two
 * recycled 64 KiB buffers: a buffer is refilled only after the socket reports it flushed, so serving any
 * size allocates nothing per block (no garbage for the GC to lag behind) and needs no backpressure
 * bookkeeping beyond the two buffers in flight.
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
    const free = [Buffer.allocUnsafeSlow(BLOCK), Buffer.allocUnsafeSlow(BLOCK)]
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
    const startedAt = Date.now()
    const rate = options.bytesPerSecond
    // the next block once the bytes sent so far are due at `rate` (at once without a rate)
    const paced = (): void => {
      const wait = rate === undefined ? 0 : startedAt + ((pos - start) * 1000) / rate - Date.now()
      if (wait <= 0) step()
      else setTimeout(step, wait)
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
          if (free.length === 2 && !ending) {
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
          options.onBytes(n)
          // counted as the last byte is handed to the socket: a client that has read it all sees it counted
          if (pos > end) options.onComplete()
          res.write(chunk, (werr) => {
            free.push(buf)
            if (werr) return settle("aborted")
            paced()
          })
          paced()
        })
      }
    }
    if (start > end) options.onComplete()
    step()
  })
