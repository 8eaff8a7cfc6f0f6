/**
 * An HTTP/1.1 response read incrementally from socket reads (see rawSend.ts): the status line and
 * headers, then the body framed by Content-Length, by chunked transfer coding, or by the connection's
 * close. It keeps no reference to the bytes it is fed: body bytes are handed over as views of the read
 * they arrived in, and a handler that returns false stops the reading there (`feed` returns where), so
 * the caller can keep that read's memory untouched until the handler is done with it and then feed the
 * rest. Only what is split across reads is copied: the head, a chunk-size line, trailers.
 */

/**
 * A response's status line and headers (names lower-cased; as Node does, a repeat of a header that takes
 * one value is dropped and other repeats are joined with ", "). `http10`: an HTTP/1.0 answer (it
 * closes the connection unless it says keep-alive).
 */
export interface ResponseHead {
  readonly status: number
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly http10?: boolean
}

/** Headers of one value: the first wins (joined, a repeated Location or Retry-After would mean nothing). */
const SINGLE_VALUED = new Set([
  "age",
  "content-type",
  "etag",
  "expires",
  "last-modified",
  "location",
  "retry-after",
  "server",
  "content-range"
])

/** What the reader tells its owner; `false` from a handler stops the read right after that event. */
export interface ResponseHandlers {
  readonly onHead: (head: ResponseHead) => boolean
  readonly onBody: (chunk: Uint8Array) => boolean
  readonly onEnd: () => void
}

/** The bytes do not make an HTTP/1.1 response (or one this client cannot read). */
export class MalformedResponse extends Error {}

/** Node's own limit on a response head is 16 KiB; a redirect with a long Location can exceed that. */
export const MAX_HEAD_BYTES = 64 * 1024
const MAX_LINE_BYTES = 4 * 1024
const CR = 13
const LF = 10

type State =
  | "head"
  | "length"
  | "chunkSize"
  | "chunkData"
  | "chunkDataEnd"
  | "trailers"
  | "untilClose"
  | "done"

/** Whether a body follows a head of this status (to a GET: 1xx, 204 and 304 have none). */
const hasBody = (status: number) => status >= 200 && status !== 204 && status !== 304

/** Parses a head (the bytes before its blank line) into status and headers. */
export const parseHead = (text: string): ResponseHead => {
  const lines = text.split(/\r?\n/)
  const m = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? "")
  if (m === null) throw new MalformedResponse(`not an HTTP/1.1 status line: ${JSON.stringify(lines[0]?.slice(0, 80))}`)
  const headers: Record<string, string> = {}
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!
    const colon = line.indexOf(":")
    if (colon <= 0 || /^[ \t]/.test(line)) throw new MalformedResponse(`malformed header line ${JSON.stringify(line)}`)
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    const before = headers[name]
    if (before === undefined) headers[name] = value
    else if (!SINGLE_VALUED.has(name)) headers[name] = `${before}, ${value}`
  }
  return m[1] === "0" ? { status: Number(m[2]), headers, http10: true } : { status: Number(m[2]), headers }
}

/** The body's framing a head announces (RFC 9112 §6.3): a length, chunked, or until the connection closes. */
const framing = (head: ResponseHead): { readonly state: State; readonly length: number } => {
  if (!hasBody(head.status)) return { state: "done", length: 0 }
  const te = head.headers["transfer-encoding"]
  if (te !== undefined) {
    const codings = te.split(",").map((c) => c.trim().toLowerCase())
    return { state: codings[codings.length - 1] === "chunked" ? "chunkSize" : "untilClose", length: 0 }
  }
  const cl = head.headers["content-length"]
  if (cl === undefined) return { state: "untilClose", length: 0 }
  const values = new Set(cl.split(",").map((v) => v.trim()))
  const only = values.size === 1 ? [...values][0]! : ""
  if (!/^\d{1,15}$/.test(only)) throw new MalformedResponse(`invalid Content-Length ${JSON.stringify(cl)}`)
  const length = Number(only)
  return { state: length === 0 ? "done" : "length", length }
}

/** Index of the blank line ending a head in `bytes` (from `from`), and the index after it, or null. */
const headEnd = (bytes: Uint8Array, from: number): { readonly at: number; readonly next: number } | null => {
  for (let i = Math.max(0, from); i < bytes.length; i++) {
    if (bytes[i] !== LF) continue
    if (i >= 1 && bytes[i - 1] === LF) return { at: i - 1, next: i + 1 }
    if (i >= 2 && bytes[i - 1] === CR && bytes[i - 2] === LF) {
      return { at: i >= 3 && bytes[i - 3] === CR ? i - 3 : i - 2, next: i + 1 }
    }
  }
  return null
}

/** Reads one response; `feed` it every read of the connection in order, `closed` when the peer closed it. */
export class ResponseReader {
  private state: State = "head"
  /** Bytes of the body (or of the current chunk) still to come. */
  private left = 0
  /** A head, chunk-size line or trailer split across reads, gathered (small). */
  private pending: Array<Buffer> = []
  private pendingBytes = 0
  /** Whether the connection may carry another request after this response (framed body, no `close`). */
  reusable = true

  constructor(private readonly handlers: ResponseHandlers) {}

  /** Whether the response has ended (its body read to its framed end). */
  get done(): boolean {
    return this.state === "done"
  }

  /** Whether a head was read (the body, if any, is under way). */
  get headRead(): boolean {
    return this.state !== "head"
  }

  /**
   * Reads `bytes[start, end)`; returns where it stopped: `end`, the offset after an event whose handler
   * returned false, or the offset where the response ended (what follows belongs to no response).
   * Throws `MalformedResponse`.
   */
  feed(bytes: Uint8Array, start: number, end: number): number {
    let at = start
    while (at < end) {
      switch (this.state) {
        case "head": {
          const r = this.readHead(bytes, at, end)
          if (r.stop) return r.at
          at = r.at
          break
        }
        case "length":
        case "chunkData":
        case "untilClose": {
          const n = this.state === "untilClose" ? end - at : Math.min(this.left, end - at)
          const chunk = bytes.subarray(at, at + n)
          at += n
          if (this.state !== "untilClose") this.left -= n
          if (this.left === 0 && this.state === "length") this.state = "done"
          else if (this.left === 0 && this.state === "chunkData") this.state = "chunkDataEnd"
          const go = this.handlers.onBody(chunk)
          if (this.done) {
            this.handlers.onEnd()
            return at
          }
          if (!go) return at
          break
        }
        case "chunkSize":
        case "chunkDataEnd":
        case "trailers": {
          const nl = bytes.subarray(at, end).indexOf(LF)
          if (nl < 0) {
            this.gather(bytes.subarray(at, end), MAX_LINE_BYTES)
            return end
          }
          const line = this.line(bytes.subarray(at, at + nl))
          at += nl + 1
          this.lineRead(line)
          if (this.done) {
            this.handlers.onEnd()
            return at
          }
          break
        }
        case "done":
          return at
      }
    }
    return at
  }

  /**
   * The peer closed the connection: the body ends here when it is framed by the close; otherwise
   * whether the response is complete (a body cut short returns false).
   */
  closed(): boolean {
    if (this.state === "untilClose") {
      this.state = "done"
      this.reusable = false
      this.handlers.onEnd()
    }
    return this.state === "done"
  }

  private gather(part: Uint8Array, limit: number): void {
    this.pendingBytes += part.length
    if (this.pendingBytes > limit) throw new MalformedResponse(`a response line or head longer than ${limit} bytes`)
    this.pending.push(Buffer.from(part))
  }

  /** A complete line (without its LF), joined with what was gathered of it, without a trailing CR. */
  private line(rest: Uint8Array): string {
    let bytes: Buffer = Buffer.from(rest.buffer, rest.byteOffset, rest.length)
    if (this.pending.length > 0) {
      bytes = Buffer.concat([...this.pending, bytes])
      this.pending = []
      this.pendingBytes = 0
    }
    if (bytes.length > MAX_LINE_BYTES) {
      throw new MalformedResponse(`a response line longer than ${MAX_LINE_BYTES} bytes`)
    }
    const end = bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.length - 1 : bytes.length
    return bytes.toString("latin1", 0, end)
  }

  private lineRead(line: string): void {
    switch (this.state) {
      case "chunkSize": {
        const m = /^([0-9a-fA-F]{1,13})[ \t]*(?:;.*)?$/.exec(line)
        if (m === null) throw new MalformedResponse(`invalid chunk size line ${JSON.stringify(line.slice(0, 80))}`)
        this.left = parseInt(m[1]!, 16)
        this.state = this.left === 0 ? "trailers" : "chunkData"
        return
      }
      case "chunkDataEnd":
        if (line !== "") throw new MalformedResponse("a chunk is longer than its size line says")
        this.state = "chunkSize"
        return
      case "trailers":
        if (line === "") this.state = "done"
        return
    }
  }

  private readHead(bytes: Uint8Array, at: number, end: number): { readonly at: number; readonly stop: boolean } {
    const part = bytes.subarray(at, end)
    // the blank line may straddle the reads: look from the last 3 gathered bytes on
    const gathered = this.pendingBytes
    const joined = gathered === 0 ? part : Buffer.concat([...this.pending, part])
    const found = headEnd(joined, gathered - 3)
    if (found === null) {
      this.gather(part, MAX_HEAD_BYTES)
      return { at: end, stop: false }
    }
    if (found.at > MAX_HEAD_BYTES) throw new MalformedResponse(`a response head longer than ${MAX_HEAD_BYTES} bytes`)
    this.pending = []
    this.pendingBytes = 0
    const head = parseHead(Buffer.from(joined.buffer, joined.byteOffset, found.at).toString("latin1"))
    const next = at + found.next - gathered
    // 1xx (100 Continue, 103 Early Hints) come before the answer itself
    if (head.status >= 100 && head.status < 200) return { at: next, stop: false }
    const f = framing(head)
    this.state = f.state
    this.left = f.length
    const connection = head.headers["connection"]?.toLowerCase() ?? ""
    if (f.state === "untilClose" || /(^|,)\s*close\s*(,|$)/.test(connection)) this.reusable = false
    if (head.http10 === true && !/(^|,)\s*keep-alive\s*(,|$)/.test(connection)) this.reusable = false
    if (head.headers["transfer-encoding"] !== undefined && head.headers["content-length"] !== undefined) {
      this.reusable = false
    }
    const go = this.handlers.onHead(head)
    if (this.state === "done") {
      this.handlers.onEnd()
      return { at: next, stop: true }
    }
    return { at: next, stop: !go }
  }
}
