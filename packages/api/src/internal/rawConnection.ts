/**
 * One HTTP/1.1 connection for content bodies (see rawSend.ts): `net.connect`/`tls.connect` reading into
 * memory of its own that every read reuses (`onread`), parsed by `ResponseReader`. Node's http client
 * allocates a fresh buffer per socket read and its parser copies every body chunk once more; at disk
 * speed that garbage and those copies cost about as much CPU as the rest of a download.
 *
 * A body chunk is a view of the read it arrived in, lent to the receiver: a receiver that returns false
 * keeps it (and the rest of that read) until it calls `resume`. Meanwhile the socket is paused and reads
 * go to a second buffer (TLS hands over the records it has already decrypted even after a pause), copied
 * out at once: the memory a receiver holds is never overwritten.
 */
import * as Net from "node:net"
import * as Tls from "node:tls"
import { CLOSED_EARLY } from "./nodeBody.js"
import { type ResponseHead, ResponseReader } from "./responseReader.js"

/** Bytes per socket read: a few TCP windows' worth, and no more memory than that per connection. */
export const READ_BYTES = 256 * 1024

/** Takes a response's body; see the module comment for the lending of chunks. */
export interface BodyReceiver {
  /** A chunk lent until this returns true, or until `resume` after it returned false. */
  readonly onBody: (chunk: Uint8Array) => boolean
  readonly onEnd: () => void
  /** The body was cut (a transport error, a close before its end, bytes that are not HTTP). */
  readonly onCut: (cause: unknown) => void
  /** Memory the receiver would like the next read to go to (see `DrainOptions.into`). */
  readonly into?: (() => Uint8Array | undefined) | undefined
}

/** A receiver's memory smaller than this is not read into (a read that small costs more than its copy). */
const MIN_INTO_BYTES = 16 * 1024

/** What is left of a read when its reader must wait is copied out, not read later, up to this size. */
const COPY_NOT_PAUSE_BYTES = 16 * 1024

/** What waits for a response's head. */
interface HeadWaiter {
  readonly onHead: (head: ResponseHead) => void
  readonly onFail: (cause: unknown, beforeAnyByte: boolean) => void
  /**
   * The response ended and its receiver holds none of its bytes: the connection could take the next
   * request now. Called at most once per request, after the read that ended the response is through.
   */
  readonly onDone?: (() => void) | undefined
}

/** A region of a read not yet taken by the reader. */
interface Pending {
  readonly bytes: Uint8Array
  at: number
  readonly end: number
}

/** Where to connect for a URL (brackets off an IPv6 host; no SNI for an IP address). */
const target = (url: URL) => {
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
  const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port)
  return { host, port, servername: Net.isIP(host) === 0 ? host : undefined }
}

export class RawConnection {
  readonly socket: Net.Socket
  private readonly main: Buffer
  private readonly spare: Buffer
  /** Reads not yet taken by the reader, in order: only the first may be `main` or `spare` (later ones are copies). */
  private readonly pending: Array<Pending> = []
  /** The receiver holds a chunk of `pending[0]` (it returned false and has not called `resume`). */
  private lent = false
  private paused = false
  private reader: ResponseReader | null = null
  private waiter: HeadWaiter | null = null
  private receiver: BodyReceiver | null = null
  /** The current request's `onDone`, until it is called. */
  private doneHook: (() => void) | null = null
  /** Bytes of the current response received so far (0: a reused connection that failed may be retried). */
  private received = 0
  /** The current response ended (read to its framed end). */
  private ended = false
  /** The peer closed its side: what is pending is all there is. */
  private eof = false
  /** The connection failed or was closed: nothing more arrives. */
  private broken: unknown = null
  /** Whether it may carry another request once the current response has ended. */
  private reusable = true
  /** Requests sent on it (more than one: it came from the pool). */
  uses = 0

  constructor(readonly key: string, url: URL, readBytes = READ_BYTES) {
    this.main = Buffer.allocUnsafe(readBytes)
    this.spare = Buffer.allocUnsafe(readBytes)
    const { host, port, servername } = target(url)
    const onread = { buffer: this.nextBuffer, callback: this.onRead }
    this.socket = url.protocol === "https:"
      // (Node's types lack tls.connect's `onread`, which it has taken since Node 15)
      ? Tls.connect({ host, port, servername, ALPNProtocols: ["http/1.1"], onread } as Tls.ConnectionOptions)
      : Net.connect({ host, port, onread })
    this.socket.setNoDelay(true)
    this.socket.on("error", this.onError)
    this.socket.on("end", this.onEof)
    this.socket.on("close", this.onEof)
    // (a kept connection's idle timeout, see RawPool)
    this.socket.on("timeout", () => this.reader === null && this.destroy())
  }

  /** Whether it can take a request (nothing in flight, nothing broken, not closed by the peer). */
  get idle(): boolean {
    return this.broken === null && this.reusable && !this.eof && !this.socket.destroyed && this.reader === null
  }

  /** Sends a request whose head is `head`; `waiter` hears of its response's head, or of a failure before it. */
  send(head: string, waiter: HeadWaiter): void {
    this.uses++
    this.received = 0
    this.ended = false
    this.lent = false
    this.waiter = waiter
    this.receiver = null
    this.doneHook = waiter.onDone ?? null
    this.reader = new ResponseReader({ onHead: this.onHead, onBody: this.onBody, onEnd: this.onEnd })
    this.socket.write(head, "latin1")
  }

  /** Hands the body over to `receiver`, first what already arrived with the head. */
  receive(receiver: BodyReceiver): void {
    this.receiver = receiver
    if (this.ended) return receiver.onEnd()
    if (this.broken !== null) return receiver.onCut(this.broken)
    this.resume()
  }

  /** A receiver that held a chunk back is done with it: reading goes on. */
  readonly resume = (): void => {
    this.lent = false
    if (this.ended) queueMicrotask(this.done)
    if (!this.pump() || !this.paused || this.socket.destroyed) return
    this.paused = false
    this.socket.resume()
  }

  /** After a response: whether the connection is ready for another request (else it was destroyed). */
  finish(): boolean {
    const keep = this.ended && this.reusable && this.broken === null && !this.eof && !this.socket.destroyed &&
      this.pending.length === 0
    if (!keep) {
      this.destroy()
      return false
    }
    this.reader = null
    this.waiter = null
    this.receiver = null
    this.doneHook = null
    return true
  }

  /** Tells the current request that its response is over (see `HeadWaiter.onDone`), once. */
  private readonly done = (): void => {
    const hook = this.doneHook
    if (hook === null || !this.ended || this.lent || this.broken !== null || this.pending.length > 0) return
    this.doneHook = null
    hook()
  }

  /** Closes the connection; a receiver of a body not read to its end hears of it as a cut. */
  destroy(): void {
    const receiver = this.ended ? null : this.receiver
    this.reader = null
    this.waiter = null
    this.receiver = null
    this.doneHook = null
    this.pending.length = 0
    this.broken ??= new Error("the connection was closed")
    this.socket.destroy()
    receiver?.onCut(this.broken)
  }

  /**
   * Where the next read goes: the receiver's memory when it offers some and nothing is pending (the
   * read's body bytes are then in place: see BodyReceiver.into), else ours, never the buffer whose
   * bytes are still lent out or pending. Node asks after every read (once the callback has run).
   */
  private readonly nextBuffer = (): Uint8Array => {
    const pending = this.pending[0]
    if (pending === undefined && !this.ended && this.receiver?.into !== undefined) {
      const into = this.receiver.into()
      if (into !== undefined && into.length >= MIN_INTO_BYTES) return into
    }
    return pending?.bytes === this.main ? this.spare : this.main
  }

  private readonly onRead = (n: number, bytes: Uint8Array): boolean => {
    this.received += n
    if (this.pending.length > 0) {
      // a read while paused (TLS records decrypted before the pause) or while a copied rest waits (see
      // below): copied, as `bytes` is reused
      this.pending.push({ bytes: Buffer.from(bytes.subarray(0, n)), at: 0, end: n })
      this.paused = true
      return false
    }
    if (this.reader === null) {
      // bytes on a connection without a request: it cannot be reused
      this.reusable = false
      return true
    }
    this.pending.push({ bytes, at: 0, end: n })
    if (this.pump()) return true
    // The reader waits for the body's receiver (the request's fiber has yet to take the answer): a few
    // bytes left of the read (a small body's whole) are copied out and reading goes on. Pausing and
    // resuming the socket for them cost two system calls and a turn of its stream per request.
    const p = this.pending[0]
    if (!this.lent && this.pending.length === 1 && p !== undefined && p.end - p.at <= COPY_NOT_PAUSE_BYTES) {
      this.pending[0] = { bytes: Buffer.from(p.bytes.subarray(p.at, p.end)), at: 0, end: p.end - p.at }
      return true
    }
    this.paused = true
    return false
  }

  /**
   * Feeds what is pending to the reader; true when it took all of it (nothing is lent or waiting). A
   * handler may call back in (a receiver attached from `onHead`, a `resume` from `onBody`): the feed
   * under way goes on from where it is, the inner call does nothing.
   */
  private pump(): boolean {
    if (this.pumping) return false
    this.pumping = true
    try {
      return this.pumpPending()
    } finally {
      this.pumping = false
    }
  }

  private pumping = false

  private pumpPending(): boolean {
    for (;;) {
      if (this.lent) return false
      const p = this.pending[0]
      if (p === undefined) break
      if (p.at >= p.end) {
        this.pending.shift()
        continue
      }
      const reader = this.reader
      // a body waits for its receiver
      if (reader === null || (reader.headRead && this.receiver === null && !this.ended)) return false
      try {
        p.at = reader.feed(p.bytes, p.at, p.end)
      } catch (e) {
        this.fail(e)
        return false
      }
      if (this.ended) {
        // bytes after the response's end belong to no request
        if (p.at < p.end || this.pending.length > 1) this.reusable = false
        if (!this.lent) this.pending.length = 0
        return !this.lent
      }
    }
    if (this.eof) this.settleEof()
    return true
  }

  private readonly onHead = (head: ResponseHead): boolean => {
    const waiter = this.waiter
    this.waiter = null
    waiter?.onHead(head)
    return this.receiver !== null
  }

  private readonly onBody = (chunk: Uint8Array): boolean => {
    const go = this.receiver!.onBody(chunk)
    if (!go) this.lent = true
    return go
  }

  private readonly onEnd = (): void => {
    this.ended = true
    if (this.reader !== null && !this.reader.reusable) this.reusable = false
    this.receiver?.onEnd()
    // (after the feed under way: what is left of its read is dropped or lent by then)
    queueMicrotask(this.done)
  }

  private fail(cause: unknown): void {
    if (this.broken !== null) return
    this.broken = cause
    this.reusable = false
    this.pending.length = 0
    this.socket.destroy()
    const waiter = this.waiter
    this.waiter = null
    if (waiter !== null) return waiter.onFail(cause, this.received === 0)
    if (!this.ended) this.receiver?.onCut(cause)
  }

  private readonly onError = (e: Error): void => this.fail(e)

  /** The peer closed (or the socket did): a body framed by the close ends once what is pending is read. */
  private readonly onEof = (): void => {
    this.eof = true
    this.reusable = false
    if (this.pending.length === 0 && !this.lent) this.settleEof()
  }

  private settleEof(): void {
    if (this.broken !== null || this.ended) return
    const reader = this.reader
    if (reader !== null && reader.closed()) return
    if (reader === null) {
      this.broken = new Error("the connection was closed")
      return
    }
    // (a body not yet taken by a receiver: it hears of the cut when it asks, see `receive`)
    this.fail(new Error(reader.headRead ? CLOSED_EARLY : "the connection closed before an answer"))
  }
}
