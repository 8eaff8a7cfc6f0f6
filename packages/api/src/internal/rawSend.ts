/**
 * Content requests sent on connections of our own (see rawConnection.ts) instead of Node's http client,
 * for the client `GraphClient.layer` builds: large bodies (recordings) are read into reused memory and
 * handed to `Content.drain`'s consumer as views of it, without the fresh buffer per read and the parser's
 * copy of every chunk that Node's client makes (about 1 s of CPU per GiB); small ones (transcripts, tiny
 * recordings) without Node's request, message and stream objects, which cost more CPU than the rest of
 * their request. Redirects, credentials, retries and error answers stay the request loop's (request.ts):
 * an answer here is an `Answer` like any other.
 *
 * Connections are kept per origin between requests (a few, for a few seconds, never keeping the process
 * alive), as the keep-alive agent keeps its sockets; a kept connection the server closed meanwhile is
 * replaced by a fresh one for the same request when it failed before any byte of an answer.
 */
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { type Answer, AnswerTimeout, armTimeout, type Outgoing } from "./nodeSend.js"
import { type BodyReceiver, RawConnection } from "./rawConnection.js"
import type { ResponseHead } from "./responseReader.js"
import { QueuedBody } from "./queuedBody.js"

/**
 * Whether Node may send this process's http(s) requests through a proxy (`NODE_USE_ENV_PROXY`, Node 24):
 * connections of our own would bypass it, so the agent keeps every request then.
 */
export const envProxied = (): boolean => {
  const v = process.env["NODE_USE_ENV_PROXY"]
  return v !== undefined && v !== "" && v !== "0"
}

/** Kept connections per origin: as many as downloads usually run side by side. */
const KEPT_PER_ORIGIN = 8

/** A kept connection is closed after this long unused (below the 5 s of Node's servers and most others). */
const KEPT_MS = 4_000

/** Idle connections per origin, for the next requests. */
export class RawPool {
  private readonly kept = new Map<string, Array<RawConnection>>()

  /** A kept connection to `url`'s origin, or a new one. */
  take(url: URL): RawConnection {
    const key = url.origin
    const list = this.kept.get(key)
    while (list !== undefined && list.length > 0) {
      const conn = list.pop()!
      if (!conn.idle) continue
      conn.socket.setTimeout(0)
      conn.socket.ref()
      return conn
    }
    return new RawConnection(key, url)
  }

  /** Keeps `conn` (its response read to the end) for the next request, or closes it. */
  give(conn: RawConnection): void {
    if (!conn.finish()) return
    let list = this.kept.get(conn.key)
    if (list === undefined) this.kept.set(conn.key, list = [])
    for (let i = list.length - 1; i >= 0; i--) if (!list[i]!.idle) list.splice(i, 1)
    if (list.length >= KEPT_PER_ORIGIN) return conn.destroy()
    conn.socket.unref()
    conn.socket.setTimeout(KEPT_MS)
    list.push(conn)
  }
}

/** The request line and headers (a header value with a line break is refused, as Node's client does). */
export const requestHead = (out: Outgoing): string => {
  let head = `${out.method} ${out.url.pathname}${out.url.search} HTTP/1.1\r\nhost: ${out.url.host}\r\n`
  for (const name in out.headers) {
    const value = out.headers[name]!
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[^\t\x20-\x7e\x80-\xff]/.test(value)) {
      throw new TypeError(`invalid character in header ${JSON.stringify(name)}`)
    }
    head += `${name}: ${value}\r\n`
  }
  return `${head}\r\n`
}

/**
 * One request's hold on a connection, what its answer's body readers go through. The connection goes
 * back to the pool once: as soon as the answer has ended and its reader holds none of its bytes (so a
 * redirect's or a refused attempt's connection serves the next request, not a new one), or when the
 * caller's scope closes (closed then, unless the answer was read to its end). After that every call
 * here does nothing: a reader of an old answer never touches the connection another request took.
 */
export class RawLease {
  private over = false
  /** Given back after its answer ended (not because the caller's scope closed first). */
  private ended = false

  constructor(private readonly pool: RawPool, readonly connection: RawConnection) {}

  /** The answer ended and nothing of it is lent (`HeadWaiter.onDone`). */
  readonly done = (): void => {
    if (this.over) return
    this.ended = true
    this.giveBack()
  }

  /** Gives the connection to the pool (kept if its answer was read to the end, else closed), once. */
  readonly giveBack = (): void => {
    if (this.over) return
    this.over = true
    this.pool.give(this.connection)
  }

  receive(receiver: BodyReceiver): void {
    if (!this.over) return this.connection.receive(receiver)
    if (this.ended) receiver.onEnd()
    else receiver.onCut(new Error("the connection was closed"))
  }

  readonly resume = (): void => {
    if (!this.over) this.connection.resume()
  }

  destroy(): void {
    if (this.over) return
    this.over = true
    this.connection.destroy()
  }
}

/** An answer read off a `RawConnection` (its body through `stream`, or a receiver of the content path). */
export class RawAnswer implements Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string | undefined>>
  constructor(readonly lease: RawLease, head: ResponseHead) {
    this.status = head.status
    this.headers = head.headers
  }
  get stream(): Stream.Stream<Uint8Array, unknown> {
    return Stream.suspend(() => Stream.repeatEffectChunkOption(new PulledBody(this.lease).pull))
  }
}

/** The hold on a connection behind an answer of `exchangeScoped`, if it is one. */
export const rawLeaseOf = (res: Answer): RawLease | undefined => res instanceof RawAnswer ? res.lease : undefined

/** Bytes copied ahead of the puller before the connection is held back. */
const PULL_AHEAD_BYTES = 256 * 1024

/** A body pulled as copies (error bodies, redirect bodies, `Content.stream`): the memory it reads into is reused. */
class PulledBody extends QueuedBody<unknown> implements BodyReceiver {
  private held = false

  constructor(private readonly connection: RawLease) {
    super()
    connection.receive(this)
  }

  readonly onBody = (chunk: Uint8Array): boolean => {
    this.enqueue(Buffer.from(chunk))
    this.wake()
    this.held = this.queued >= PULL_AHEAD_BYTES
    return !this.held
  }
  readonly onEnd = (): void => {
    this.ended = true
    this.wake()
  }
  readonly onCut = (cause: unknown): void => {
    this.failure ??= cause
    this.wake()
  }

  protected taken(): void {
    if (!this.held) return
    this.held = false
    queueMicrotask(this.connection.resume)
  }
}

/** Sends `out` on `conn`; a kept connection that fails before any byte of an answer is replaced once. */
const sendOn = (
  pool: RawPool,
  out: Outgoing,
  head: string,
  current: { lease: RawLease }
): Effect.Effect<Answer, unknown> =>
  Effect.async<Answer, unknown>((resume) => {
    // (past `out.timeoutMs` the connection is destroyed: its answer, if one still comes, is not read)
    let timedOut = false
    const disarm = armTimeout(out, () => {
      timedOut = true
      current.lease.destroy()
      resume(Effect.fail(new AnswerTimeout()))
    })
    const attempt = (conn: RawConnection) => {
      const lease = current.lease = new RawLease(pool, conn)
      conn.send(head, {
        onHead: (h) => {
          if (timedOut) return
          disarm()
          resume(Effect.succeed(new RawAnswer(lease, h)))
        },
        onFail: (cause, beforeAnyByte) => {
          if (timedOut) return
          if (beforeAnyByte && conn.uses > 1) return attempt(new RawConnection(conn.key, out.url))
          disarm()
          resume(Effect.fail(cause))
        },
        onDone: lease.done
      })
    }
    attempt(pool.take(out.url))
    return Effect.sync(() => {
      disarm()
      current.lease.destroy()
    })
  })

/**
 * A GET whose answer lives at most as long as the caller's scope (as `NodeSend.exchangeScoped`):
 * closing it ends a body still in flight. Its connection goes back to `pool` as soon as the answer has
 * been read to its end (see `RawLease`). Requests with a body go to `other`.
 */
export const exchangeScoped = (
  pool: RawPool,
  other: (out: Outgoing) => Effect.Effect<Answer, unknown, Scope.Scope>
) =>
(out: Outgoing): Effect.Effect<Answer, unknown, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) => exchangeIn(pool, other, scope)(out))

/**
 * `exchangeScoped` with the scope given (a content request's own, see content.ts): no scope to read
 * from the context, nor to put into it around the request loop.
 */
export const exchangeIn = (
  pool: RawPool,
  other: (out: Outgoing) => Effect.Effect<Answer, unknown, Scope.Scope>,
  scope: Scope.Scope
) =>
(out: Outgoing): Effect.Effect<Answer, unknown> => {
  if (out.method !== "GET" || out.body !== undefined) return Scope.extend(other(out), scope)
  let head: string
  try {
    head = requestHead(out)
  } catch (e) {
    return Effect.fail(e)
  }
  const current: { lease: RawLease | undefined } = { lease: undefined }
  return Effect.zipRight(
    Scope.addFinalizer(scope, Effect.sync(() => current.lease?.giveBack())),
    sendOn(pool, out, head, current as { lease: RawLease })
  )
}
