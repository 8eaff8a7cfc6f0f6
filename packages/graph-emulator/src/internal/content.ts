/**
 * Artifact content as a byte source: a file on disk, inline text, or a deterministic generator
 * (`{ bytes, seed }`) whose bytes are computed per 64 KiB block, so any size costs constant memory
 * and any range can be produced without generating what precedes it.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Stream from "effect/Stream"
import * as NodeFs from "node:fs"

export const BLOCK = 64 * 1024

export type ContentSource =
  | { readonly _tag: "File"; readonly path: string; readonly size: number }
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
  | { readonly _tag: "Generated"; readonly size: number; readonly seed: number }

export const sizeOf = (source: ContentSource): number =>
  source._tag === "Bytes" ? source.bytes.length : source.size

// The first bytes of a generated recording look like an MP4 `ftyp` box, so sniffers see video.
const FTYP = Uint8Array.from([
  0x00, 0x00, 0x00, 0x18, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d, 0x00, 0x00, 0x02, 0x00,
  0x69, 0x73, 0x6f, 0x6d, 0x6d, 0x70, 0x34, 0x31
])

/** Block `index` of a generated content stream (full BLOCK bytes; the caller trims the last one). */
export const generatedBlock = (seed: number, index: number): Uint8Array => {
  const words = new Uint32Array(BLOCK / 4)
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
  const bytes = new Uint8Array(words.buffer)
  if (index === 0) bytes.set(FTYP, 0)
  return bytes
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

/** Bytes `[start, end]` (inclusive) of the source as a stream of chunks. */
export const streamRange = (source: ContentSource, start: number, end: number): Stream.Stream<Uint8Array, Error> => {
  if (end < start) return Stream.empty
  switch (source._tag) {
    case "Bytes":
      return Stream.make(source.bytes.subarray(start, end + 1))
    case "File":
      return NodeStream.fromReadable<Error, Uint8Array>(
        () => NodeFs.createReadStream(source.path, { start, end, highWaterMark: BLOCK }),
        (cause) => (cause instanceof Error ? cause : new Error(String(cause)))
      )
    case "Generated": {
      const first = Math.floor(start / BLOCK)
      const last = Math.floor(end / BLOCK)
      return Stream.range(first, last).pipe(
        Stream.map((index) => {
          const block = generatedBlock(source.seed, index)
          const blockStart = index * BLOCK
          const from = Math.max(start, blockStart) - blockStart
          const to = Math.min(end + 1, blockStart + BLOCK) - blockStart
          return block.subarray(from, to)
        })
      )
    }
  }
}
