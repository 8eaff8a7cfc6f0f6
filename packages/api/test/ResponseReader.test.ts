/**
 * The HTTP/1.1 response reader under the raw content path (src/internal/responseReader.ts), fed the
 * bytes of real responses split at every place (or at random places) across reads: the head, each
 * body byte once and in order, the end exactly at the framed end, a body cut short never reported whole.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { MalformedResponse, type ResponseHead, ResponseReader } from "../src/internal/responseReader.js"

interface Read {
  head: ResponseHead | undefined
  body: Buffer
  ended: boolean
  /** How many times `feed` stopped early (a handler said stop) and was fed the rest. */
  stops: number
}

/** Feeds `bytes` in pieces cut at `cuts`; a handler that says stop is fed the rest of that piece again. */
const readIn = (bytes: Buffer, cuts: ReadonlyArray<number>, holdEvery = 0, close = false): Read => {
  const r: Read = { head: undefined, body: Buffer.alloc(0), ended: false, stops: 0 }
  let n = 0
  const reader = new ResponseReader({
    onHead: (h) => {
      r.head = h
      return true
    },
    onBody: (c) => {
      // the view is only valid now: copy it
      r.body = Buffer.concat([r.body, Buffer.from(c)])
      return holdEvery === 0 || ++n % holdEvery !== 0
    },
    onEnd: () => {
      r.ended = true
    }
  })
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b)
  let from = 0
  for (const to of [...points, bytes.length]) {
    // a reused read buffer: the piece is copied in, then overwritten after the reader is done with it
    const read = Buffer.from(bytes.subarray(from, to))
    for (let at = 0; at < read.length && !reader.done;) {
      const next = reader.feed(read, at, read.length)
      if (next < read.length && !reader.done) r.stops++
      at = next
    }
    read.fill(0xee)
    from = to
  }
  if (close) reader.closed()
  return r
}

const DATA = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7 + 3) % 251))

const lengthResponse = Buffer.concat([
  Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: ${DATA.length}\r\nETag: "v1"\r\n\r\n`),
  DATA
])

/** DATA in chunks of the given sizes (hex sizes, an extension, a trailer). */
const chunked = (sizes: ReadonlyArray<number>): Buffer => {
  const parts: Array<Buffer> = [Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")]
  let at = 0
  for (const size of sizes) {
    const n = Math.min(size, DATA.length - at)
    if (n <= 0) break
    parts.push(
      Buffer.from(`${n.toString(16)}${at === 0 ? ";ext=1" : ""}\r\n`),
      DATA.subarray(at, at + n),
      Buffer.from("\r\n")
    )
    at += n
  }
  if (at < DATA.length) {
    parts.push(Buffer.from(`${(DATA.length - at).toString(16)}\r\n`), DATA.subarray(at), Buffer.from("\r\n"))
  }
  parts.push(Buffer.from("0\r\nX-Trailer: yes\r\n\r\n"))
  return Buffer.concat(parts)
}

describe("ResponseReader", () => {
  it("a Content-Length response split at every single place: the head, every body byte once, the end", () => {
    for (let cut = 1; cut < lengthResponse.length; cut += cut < 200 ? 1 : 37) {
      const r = readIn(lengthResponse, [cut, cut + 1, cut + 5])
      expect(r.head?.status).toBe(200)
      expect(r.head?.headers["content-length"]).toBe(String(DATA.length))
      expect(r.head?.headers["etag"]).toBe("\"v1\"")
      expect(r.ended).toBe(true)
      expect(r.body.equals(DATA)).toBe(true)
    }
  })

  it("a chunked body split at random places (inside sizes, CRLFs, data, trailers), with stops: byte-exact", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 4000 }), { maxLength: 40 }),
        fc.integer({ min: 0, max: 3 }),
        (sizes, cuts, holdEvery) => {
          const bytes = chunked(sizes)
          const r = readIn(bytes, cuts, holdEvery)
          expect(r.ended).toBe(true)
          expect(r.body.equals(DATA)).toBe(true)
        }
      ),
      { numRuns: 300 }
    )
  })

  it("every split of a chunked response's framing (one byte per read) reads the same body", () => {
    const bytes = chunked([1, 2, 16, 255, 256, 1000])
    const r = readIn(bytes, Array.from({ length: bytes.length }, (_, i) => i))
    expect(r.ended).toBe(true)
    expect(r.body.equals(DATA)).toBe(true)
  })

  it("a body cut mid-chunk or mid-size-line is not complete when the connection closes", () => {
    const bytes = chunked([500, 500, 500])
    for (const end of [bytes.length - 3, bytes.length - 600, 70, 60]) {
      const reader = new ResponseReader({ onHead: () => true, onBody: () => true, onEnd: () => expect.fail("ended") })
      reader.feed(bytes, 0, end)
      expect(reader.closed()).toBe(false)
      expect(reader.done).toBe(false)
    }
  })

  it("a body without a length ends at the close; a Content-Length body cut by a close does not", () => {
    const open = Buffer.concat([Buffer.from("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"), DATA])
    const r = readIn(open, [17, 100, 1000], 0, true)
    expect(r.ended).toBe(true)
    expect(r.body.equals(DATA)).toBe(true)
    const cut = readIn(lengthResponse.subarray(0, lengthResponse.length - 1), [100], 0, true)
    expect(cut.ended).toBe(false)
  })

  it("interim 1xx answers are skipped; 204 and 304 have no body; bytes after the end are left unread", () => {
    const bytes = Buffer.from(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\nGARBAGE"
    )
    const seen: Array<number> = []
    const reader = new ResponseReader({
      onHead: (h) => (seen.push(h.status), true),
      onBody: () => expect.fail("body"),
      onEnd: () => {}
    })
    const at = reader.feed(bytes, 0, bytes.length)
    expect(seen).toEqual([304])
    expect(reader.done).toBe(true)
    expect(bytes.subarray(at).toString()).toBe("GARBAGE")
  })

  it("repeated headers are joined; LF-only line ends are read; names are lower-cased", () => {
    const r = readIn(Buffer.from("HTTP/1.1 302 Found\nLocation: /x\nX-A: 1\nx-a: 2\nContent-Length: 0\n\n"), [])
    expect(r.head).toEqual({ status: 302, headers: { location: "/x", "x-a": "1, 2", "content-length": "0" } })
    expect(r.ended).toBe(true)
  })

  it("a repeated header of one value keeps its first (Location, Retry-After): joined, it would mean nothing", () => {
    const r = readIn(
      Buffer.from(
        "HTTP/1.1 302 Found\r\nLocation: /first\r\nRetry-After: 2\r\nLocation: /second\r\n" +
          "Retry-After: 7\r\nContent-Length: 0\r\n\r\n"
      ),
      []
    )
    expect(r.head?.headers["location"]).toBe("/first")
    expect(r.head?.headers["retry-after"]).toBe("2")
  })

  it("an HTTP/1.0 answer leaves its connection unusable for another request unless it says keep-alive", () => {
    const reusableAfter = (head: string) => {
      const reader = new ResponseReader({ onHead: () => true, onBody: () => true, onEnd: () => {} })
      const bytes = Buffer.from(`${head}Content-Length: 2\r\n\r\nok`)
      reader.feed(bytes, 0, bytes.length)
      expect(reader.done).toBe(true)
      return reader.reusable
    }
    expect(reusableAfter("HTTP/1.0 200 OK\r\n")).toBe(false)
    expect(reusableAfter("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n")).toBe(true)
    expect(reusableAfter("HTTP/1.1 200 OK\r\n")).toBe(true)
  })

  it("bad framing is a MalformedResponse, never bytes taken as a body", () => {
    const bad = [
      "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n",
      "HTTP/2 200\r\n\r\n",
      "SSH-2.0-OpenSSH\r\n\r\n"
    ]
    for (const text of bad) {
      const reader = new ResponseReader({ onHead: () => true, onBody: () => true, onEnd: () => {} })
      const bytes = Buffer.from(text)
      expect(() => reader.feed(bytes, 0, bytes.length)).toThrow(MalformedResponse)
    }
    const huge = Buffer.from(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(70 * 1024)}\r\n\r\n`)
    const reader = new ResponseReader({ onHead: () => true, onBody: () => true, onEnd: () => {} })
    expect(() => {
      for (let at = 0; at < huge.length; at += 1000) reader.feed(huge, at, Math.min(huge.length, at + 1000))
    }).toThrow(MalformedResponse)
  })
})
